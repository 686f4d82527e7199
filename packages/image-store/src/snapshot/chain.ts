/**
 * Chain IDs as the image-spec defines them: ChainID(L0) = DiffID(L0), and
 * ChainID(L0|…|Ln) = sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln)). A committed layer snapshot is named by
 * its chain ID, so two images that share a prefix of layers share those snapshots.
 */
import { createHash } from 'node:crypto';
import { invalidField } from '@podkit/errdefs';

const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;

export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  diffIds.forEach((d, i) => {
    if (!DIGEST.test(d)) throw invalidField(`/rootfs/diff_ids/${i}`, `"${d}" is not a valid digest`);
    const prev = out[i - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  });
  return out;
}

export function chainId(diffIds: readonly string[]): string {
  const ids = chainIds(diffIds);
  const last = ids[ids.length - 1];
  if (last === undefined) throw invalidField('/rootfs/diff_ids', 'an image needs at least one layer');
  return last;
}
