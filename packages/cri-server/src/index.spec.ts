import { DEFAULT_CONFIG, RUNTIME_API_VERSION } from './index';
import { main } from './cli/podkitd';

describe('cri-server skeleton', () => {
  it('has podkit default roots', () => {
    expect(DEFAULT_CONFIG).toEqual({ socketPath: '/run/podkit/podkitd.sock', root: '/var/lib/podkit', state: '/run/podkit' });
    expect(RUNTIME_API_VERSION).toBe('v1');
  });
  it('podkitd refuses to serve with a clear error until the server exists', () => {
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      main([]);
      expect(process.exitCode).toBe(1);
      expect(String(err.mock.calls[0]![0])).toMatch(/CRI server is not built yet/);
    } finally {
      process.exitCode = 0;
      err.mockRestore();
    }
  });
});
