/**
 * One HTTP request to a registry with authorization: sends what the Authorizer knows, and on a 401
 * lets it read the challenge and retries once. Bodies must be replayable (Buffers or strings): a
 * streamed body cannot be sent twice, so callers that stream make a small request first (a HEAD or
 * the upload POST), which settles the authorization for the scopes.
 */
import type { Dispatcher } from 'undici';
import { PermissionDeniedError } from '@podkit/errdefs';
import { httpRequest } from '../http/undici';
import { Authorizer } from './authorizer';

export interface AuthorizedRequest {
  method: Dispatcher.HttpMethod;
  url: string;
  /** host[:port] whose credentials and tokens apply (the endpoint's). */
  host: string;
  scopes: readonly string[];
  headers?: Record<string, string>;
  body?: Buffer | string;
  dispatcher: Dispatcher;
  /** What the request is about, for error messages (`manifest a/b:tag`). */
  what: string;
}

async function send(req: AuthorizedRequest, authorization: string | undefined): Promise<Dispatcher.ResponseData> {
  const u = new URL(req.url);
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (authorization !== undefined) headers['authorization'] = authorization;
  // Network errors go up as undici threw them (with their `code`), so callers can decide to retry.
  return httpRequest(req.dispatcher, {
    origin: u.origin,
    path: u.pathname + u.search,
    method: req.method,
    headers,
    ...(req.body !== undefined ? { body: req.body } : {}),
  });
}

/**
 * Sends the request; answers every status except a 401 that authorization could not fix, which becomes
 * a PermissionDeniedError naming the host (never the credentials). Network errors are undici's own.
 */
export async function authorizedRequest(auth: Authorizer, req: AuthorizedRequest): Promise<Dispatcher.ResponseData> {
  // Credentials go only to the registry's own origin: an upload or blob URL on another host (object
  // storage behind the registry) carries its own authorization in the URL.
  if (new URL(req.url).host !== req.host) return send(req, undefined);
  const first = await auth.header(req.host, req.scopes);
  let res = await send(req, first);
  if (res.statusCode !== 401) return res;
  await res.body.dump().catch(() => undefined);
  const retry = await auth.challenge(req.host, res.headers['www-authenticate'], req.scopes, first);
  if (retry) {
    const second = await auth.header(req.host, req.scopes);
    res = await send(req, second);
    if (res.statusCode !== 401) return res;
    await res.body.dump().catch(() => undefined);
  }
  const hasCreds = await auth.hasCredentials(req.host);
  const reason = hasCreds ? `the registry rejected the credentials for ${req.host}` : `authentication required: no credentials for ${req.host} (run podimg login ${req.host})`;
  throw new PermissionDeniedError(`${req.what}: HTTP 401: ${reason}`, { details: { field: 'credentials', status: 401 } });
}
