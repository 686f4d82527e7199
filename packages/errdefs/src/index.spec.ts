import {
  AlreadyExistsError,
  ERROR_CODES,
  GRPC_STATUS,
  InvalidArgumentError,
  NotFoundError,
  codeOf,
  errorFromCode,
  exitCodeFor,
  fromErrno,
  invalidDocument,
  invalidField,
  isAlreadyExists,
  isInvalidArgument,
  isNotFound,
  isPodkitError,
  toPodkitError,
  wrap,
} from './index';

describe('errdefs', () => {
  it('builds every class from its code, with a distinct gRPC status', () => {
    const seen = new Set<number>();
    for (const code of ERROR_CODES) {
      const e = errorFromCode(code, 'boom');
      expect(e.code).toBe(code);
      expect(e.name).toBe(`${code}Error`);
      expect(e).toBeInstanceOf(Error);
      expect(isPodkitError(e)).toBe(true);
      seen.add(GRPC_STATUS[code]);
    }
    expect(seen.size).toBe(ERROR_CODES.length);
  });

  it('is*() helpers match by code and reject foreign errors', () => {
    const nf = new NotFoundError('container "x" not found');
    expect(isNotFound(nf)).toBe(true);
    expect(isAlreadyExists(nf)).toBe(false);
    expect(isNotFound(new Error('not found'))).toBe(false);
    expect(isNotFound(null)).toBe(false);
    expect(isNotFound({ code: 'NotFound' })).toBe(false);
  });

  it('keeps a cause and structured details', () => {
    const root = new Error('root');
    const e = new AlreadyExistsError('exists', { cause: root, details: { id: 'abc' } });
    expect(e.cause).toBe(root);
    expect(e.details).toEqual({ id: 'abc' });
    expect(e.toJSON()).toEqual({ code: 'AlreadyExists', message: 'exists', details: { id: 'abc' } });
  });

  it('invalidField names the field in the message and the details', () => {
    const e = invalidField('/process/args', 'must not be empty');
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toBe('/process/args: must not be empty');
    expect(e.details?.field).toBe('/process/args');
    expect(e.details?.issues).toEqual([{ path: '/process/args', reason: 'must not be empty' }]);
  });

  it('invalidDocument lists the issues and keeps all of them', () => {
    const issues = Array.from({ length: 7 }, (_, i) => ({ path: `/a/${i}`, reason: 'bad' }));
    const e = invalidDocument('config.json', issues);
    expect(e.message).toMatch(/^invalid config.json: \/a\/0: bad; .*and 2 more$/);
    expect(e.details?.issues).toHaveLength(7);
    expect(e.details?.field).toBe('/a/0');
  });

  it('maps errno reports and Node system errors to classes', () => {
    const e = fromErrno({ phase: 'mounts', syscall: 'mount', errno: 'EPERM', message: 'Operation not permitted' }, 'mount /proc');
    expect(codeOf(e)).toBe('PermissionDenied');
    expect(e.message).toBe('mount /proc: mount: EPERM Operation not permitted');
    expect(e.details).toMatchObject({ phase: 'mounts', syscall: 'mount', errno: 'EPERM' });
    const sys = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', syscall: 'open' });
    expect(isNotFound(toPodkitError(sys))).toBe(true);
    expect(codeOf(toPodkitError(new Error('x')))).toBe('Internal');
    expect(codeOf(toPodkitError('str'))).toBe('Unknown');
  });

  it('wrap keeps the class and adds context', () => {
    const e = wrap(new NotFoundError('no such blob'), 'pull busybox');
    expect(isNotFound(e)).toBe(true);
    expect(e.message).toBe('pull busybox: no such blob');
  });

  it('exit codes: 1 for failures, 2 for usage errors', () => {
    expect(exitCodeFor(new NotFoundError('x'))).toBe(1);
    expect(exitCodeFor(new InvalidArgumentError('x', { details: { usage: true } }))).toBe(2);
    expect(isInvalidArgument(invalidField('a', 'b'))).toBe(true);
  });
});
