import { COMMANDS, NotFastPath, parseArgs } from './args';

describe('podrun argv parser', () => {
  it('parses go-runc command lines (globals, flags before the id, = values)', () => {
    const p = parseArgs(['--root', '/run/r', '--log', '/b/log.json', '--log-format', 'json', 'create', '--bundle', '/b', '--pid-file', '/b/init.pid', '--no-new-keyring', 'c1']);
    expect(p.command).toBe('create');
    expect(p.positionals).toEqual({ id: 'c1' });
    expect(p.opts).toMatchObject({ root: '/run/r', log: '/b/log.json', 'log-format': 'json', bundle: '/b', 'pid-file': '/b/init.pid', 'no-new-keyring': true, 'no-pivot': false, 'preserve-fds': 0 });
    expect(parseArgs(['--root=/r', 'kill', '--all', 'c1', '9'])).toMatchObject({ command: 'kill', opts: { root: '/r', all: true }, positionals: { id: 'c1', signal: '9' } });
    expect(parseArgs(['kill', 'c1']).positionals).toEqual({ id: 'c1', signal: undefined });
    expect(parseArgs(['-root', '/r', 'delete', '-f', 'c1'])).toMatchObject({ opts: { root: '/r', force: true } });
    expect(parseArgs(['state', 'c1']).opts).toMatchObject({ root: '/run/podkit/runtime', 'log-format': 'text', debug: false });
    expect(parseArgs(['ps', '--format', 'json', 'c1']).opts['format']).toBe('json');
    expect(parseArgs(['update', '--resources', '-', 'c1']).opts['resources']).toBe('-');
  });

  it('keeps the exec command verbatim after the id (its own flags included)', () => {
    const p = parseArgs(['--root', '/r', 'exec', '-e', 'A=1', '--env', 'B=2', 'c1', 'sh', '-c', 'exit 5']);
    expect(p.positionals).toEqual({ id: 'c1', command: ['sh', '-c', 'exit 5'] });
    expect(p.opts['env']).toEqual(['A=1', 'B=2']);
    expect(parseArgs(['exec', '--process', '/tmp/p.json', '--detach', '--pid-file', 'p', 'c1']).positionals).toEqual({ id: 'c1', command: [] });
    expect(parseArgs(['exec', 'c1', '--', 'ls', '-l']).positionals['command']).toEqual(['ls', '-l']);
  });

  it('gives up (to yargs) on help, unknown verbs and flags, missing values and arguments', () => {
    for (const argv of [['--help'], ['state', '-h'], ['frobnicate'], [], ['state', 'x', '--bogus'], ['create', '--bundle'], ['state'], ['state', 'a', 'b'], ['--log-format', 'xml', 'state', 'x'], ['create', '--preserve-fds', 'two', 'x'], ['delete', '--force=maybe', 'x']]) {
      expect(() => parseArgs(argv)).toThrow(NotFastPath);
    }
  });

  it('has a handler-visible spec for every runc verb the shim uses', () => {
    for (const verb of ['create', 'start', 'state', 'kill', 'delete', 'exec', 'ps', 'pause', 'resume', 'update', 'events', 'features', 'checkpoint', 'restore']) {
      expect(COMMANDS[verb]).toBeDefined();
    }
  });
});
