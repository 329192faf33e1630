/** A metric's value from Prometheus text exposition, for one model (0 when absent); `extra` narrows to lines holding it (a label). */
export function metricValue(text: string, name: string, model: string, extra = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`model="${model}"`) && l.includes(extra));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}
