/**
 * The parts of undici the image store uses - `Agent`, the redirect interceptor and `request` - loaded
 * on their own. undici's index also loads fetch, WebSocket, EventSource, its caches and mocks: about
 * 100 ms, half of podimg's startup, spent before the first byte of a pull. Should undici's file layout
 * ever differ from the one expected here, the whole package is loaded instead (same API, slower start).
 */
import type { Agent as UndiciAgent, Dispatcher, interceptors as UndiciInterceptors } from 'undici';

type RequestFn = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

interface UndiciParts {
  Agent: typeof UndiciAgent;
  redirect: typeof UndiciInterceptors.redirect;
  request: RequestFn;
  globalDispatcher: () => Dispatcher;
}

let parts: UndiciParts | undefined;

function load(): UndiciParts {
  if (parts) return parts;
  try {
    const Agent = require('undici/lib/dispatcher/agent') as unknown;
    const redirect = require('undici/lib/interceptor/redirect') as unknown;
    const request = require('undici/lib/api/api-request') as unknown;
    const { getGlobalDispatcher } = require('undici/lib/global') as { getGlobalDispatcher?: unknown };
    if (typeof Agent !== 'function' || typeof redirect !== 'function' || typeof request !== 'function' || typeof getGlobalDispatcher !== 'function') {
      throw new Error('unexpected undici layout');
    }
    parts = {
      Agent: Agent as typeof UndiciAgent,
      redirect: redirect as typeof UndiciInterceptors.redirect,
      request: request as RequestFn,
      globalDispatcher: getGlobalDispatcher as () => Dispatcher,
    };
  } catch {
    const u = require('undici') as typeof import('undici');
    parts = { Agent: u.Agent, redirect: u.interceptors.redirect, request: u.Dispatcher.prototype.request as RequestFn, globalDispatcher: u.getGlobalDispatcher };
  }
  return parts;
}

/** undici's Agent class. */
export function undiciAgent(): typeof UndiciAgent {
  return load().Agent;
}

/** undici's redirect interceptor. */
export function redirectInterceptor(opts: { maxRedirections: number }): Dispatcher.DispatcherComposeInterceptor {
  return load().redirect(opts);
}

/**
 * `dispatcher.request(opts)`, on any dispatcher (undici's index is what adds `request` to the
 * Dispatcher prototype); without a dispatcher, undici's global one.
 */
export function httpRequest(dispatcher: Dispatcher | undefined, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  const p = load();
  return p.request.call(dispatcher ?? p.globalDispatcher(), opts);
}
