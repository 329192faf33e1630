import { lstat, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { CliError, ExitCode } from './cli-error.js';

/**
 * Refuses a path the CLI is about to write, rename or delete unless it stays inside `root`: lexically,
 * and on disk, where no folder or file between the root and the path may be a symbolic link (a link
 * planted in the repository would carry a write, rename or delete outside it; mkdir, open and rm
 * follow links). The root itself may be a link: the user chose it. Parts that do not exist yet are
 * created by the caller, as real folders.
 */
export async function confine(root: string, path: string): Promise<void> {
  const rel = relative(root, path);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new CliError(`refused: ${path} is outside the model repository ${root}`, ExitCode.DataError);
  }
  let at = root;
  for (const part of rel === '' ? [] : rel.split(sep)) {
    at = join(at, part);
    const info = await lstat(at).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (!info) break;
    if (info.isSymbolicLink()) {
      throw new CliError(
        `refused: ${at} is a symbolic link inside the model repository ${root}; lathe writes there only through real folders and files (remove the link)`,
        ExitCode.CantCreate,
      );
    }
  }
  // The same promise, checked as the kernel sees it: the parent resolves inside the root.
  const realRoot = await realpath(root);
  const parent = await realpath(dirname(path)).catch(() => undefined);
  if (parent !== undefined && parent !== realRoot && !parent.startsWith(`${realRoot}${sep}`)) {
    throw new CliError(`refused: ${dirname(path)} resolves to ${parent}, outside the model repository ${root}`, ExitCode.CantCreate);
  }
}
