import uPlot from 'uplot';
import { h } from './dom.js';

const COLORS = ['#1d4ed8', '#c2410c', '#15803d', '#7e22ce', '#be123c', '#0e7490'];

export interface LineChart {
  el: HTMLElement;
  /** Replaces the data: x values and one y array per series (null where a series has no value). */
  set(x: number[], ys: Array<Array<number | null>>): void;
}

/**
 * A uPlot line chart that fits its container's width. The container carries `data-points` (the
 * x values shown) and `data-series` (the points each series has), which the page's tests read.
 */
export function lineChart(title: string, xLabel: string, names: string[], options: { log?: boolean } = {}): LineChart {
  const box = h('figure', { class: 'chart', 'data-points': 0, 'data-series': names.join(',') });
  box.append(h('figcaption', {}, title));
  const plotEl = h('div', { role: 'img', 'aria-label': `${title}: ${names.join(', ')} by ${xLabel}` });
  box.append(plotEl);
  const width = () => Math.max(280, Math.min(900, (box.clientWidth || plotEl.clientWidth || 600) - 8));
  const plot = new uPlot(
    {
      width: width(),
      height: 220,
      scales: { x: { time: false }, y: options.log ? { distr: 3 } : {} },
      // Epochs and steps are whole numbers: no ticks between them.
      axes: [{ label: xLabel, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] }, {}],
      series: [
        { label: xLabel },
        ...names.map((label, i) => ({
          label,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: true,
          points: { show: true, size: 5 },
        })),
      ],
    },
    [[], ...names.map(() => [])],
    plotEl,
  );
  new ResizeObserver(() => plot.setSize({ width: width(), height: 220 })).observe(box);
  return {
    el: box,
    set(x, ys) {
      plot.setData([x, ...ys] as uPlot.AlignedData);
      box.dataset.series = names.map((n, i) => `${n}:${ys[i]!.filter((v) => v !== null).length}`).join(',');
      box.dataset.points = String(x.length);
    },
  };
}
