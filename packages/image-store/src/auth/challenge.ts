/**
 * `WWW-Authenticate` parsing (RFC 7235 §4.1): one header may carry several challenges, each a scheme
 * followed by comma-separated `name=value` parameters where values are tokens or quoted strings with
 * backslash escapes. Registries send `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
 */

export interface Challenge {
  /** Lower-case scheme: `bearer`, `basic`, … */
  scheme: string;
  /** Parameters with lower-case names. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Parses one or more `WWW-Authenticate` header values; malformed parts are skipped, never thrown. */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === 'string' ? [header] : header;
  const out: Challenge[] = [];
  for (const v of values) out.push(...parseOne(v));
  return out;
}

function parseOne(s: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const skipWs = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    skipWs();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const m = TOKEN.exec(s.slice(i));
    if (!m) {
      i++; // junk character: skip it
      continue;
    }
    const word = m[0];
    i += word.length;
    skipWs();
    if (s[i] === '=' && current) {
      // A parameter of the current challenge.
      i++;
      skipWs();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++; // closing quote
      } else {
        const t = TOKEN.exec(s.slice(i));
        value = t ? t[0] : '';
        i += value.length;
      }
      current.params[word.toLowerCase()] = value;
    } else if (s[i] === '=' && !current) {
      // token68 without a scheme: not meaningful, skip to the next comma.
      while (i < s.length && s[i] !== ',') i++;
    } else {
      current = { scheme: word.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}
