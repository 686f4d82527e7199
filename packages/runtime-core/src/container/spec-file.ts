/** Reading a bundle's config.json: parse errors and schema problems are InvalidArgument with paths. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidField, NotFoundError, toPodkitError } from '@podkit/errdefs';
import type { DefaultSpecOptions, Spec } from '@podkit/oci-spec';
import { ociRuntime } from './oci';

export function defaultSpec(opts?: DefaultSpecOptions): Spec {
  return ociRuntime().defaultSpec(opts);
}

export function loadSpec(bundle: string): Spec {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`bundle ${bundle}: config.json not found`, { details: { field: 'bundle' } });
    throw toPodkitError(err, `read ${file}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalidField('config.json', `not valid JSON: ${(err as Error).message}`);
  }
  return ociRuntime().validateSpec(doc);
}
