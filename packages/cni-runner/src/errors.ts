/**
 * CNI errors. A plugin reports failure with a non-zero exit and `{cniVersion, code, msg, details}` on
 * stdout; the runner turns it into the errdefs class that matches the code, keeping the CNI code, message
 * and details in `details.cni`, and naming the plugin's type and the network in the message.
 */
import { errorFromCode, type ErrorCode, type PodkitError } from '@podkit/errdefs';

/** The well-known error codes of the CNI spec (1-99 are reserved for it; 100+ are plugin specific). */
export const CNI_ERROR_CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidNetworkConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  cannotGc: 51,
} as const;

/** A plugin's error, as parsed from its output. */
export interface CniErrorInfo {
  code: number;
  msg: string;
  details?: string;
}

const CODE_CLASS: Readonly<Record<number, ErrorCode>> = {
  1: 'FailedPrecondition',
  2: 'InvalidArgument',
  3: 'NotFound',
  4: 'InvalidArgument',
  5: 'Internal',
  6: 'InvalidArgument',
  7: 'InvalidArgument',
  11: 'Unavailable',
  50: 'Unavailable',
  51: 'FailedPrecondition',
};

/** Where a call went: the plugin's type, the network's name and the command. */
export interface PluginCallSite {
  type: string;
  network: string;
  command: string;
}

export function describeCall(site: PluginCallSite): string {
  return `plugin type="${site.type}" name="${site.network}" failed (${site.command.toLowerCase()})`;
}

/** Parses a plugin's error document; undefined when the text is not one. */
export function parseCniError(text: string): CniErrorInfo | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const o = doc as Record<string, unknown>;
  if (typeof o['code'] !== 'number' || !Number.isInteger(o['code'])) return undefined;
  const info: CniErrorInfo = { code: o['code'], msg: typeof o['msg'] === 'string' ? o['msg'] : '' };
  if (typeof o['details'] === 'string' && o['details'].length > 0) info.details = o['details'];
  return info;
}

/** The podkit error for a plugin's CNI error. */
export function cniError(site: PluginCallSite, info: CniErrorInfo, stderr?: string): PodkitError {
  const cls = CODE_CLASS[info.code] ?? 'Internal';
  const text = [info.msg, info.details].filter(Boolean).join(': ') || '(no message)';
  return errorFromCode(cls, `${describeCall(site)}: CNI error ${info.code}: ${text}`, {
    details: { plugin: site.type, network: site.network, command: site.command, cni: { ...info }, ...(stderr ? { stderr } : {}) },
  });
}
