import { IMAGE_SERVICE, RUNTIME_SERVICE, parseEndpoint } from './index';

describe('cri-api names', () => {
  it('names the runtime.v1 services', () => {
    expect(RUNTIME_SERVICE).toBe('runtime.v1.RuntimeService');
    expect(IMAGE_SERVICE).toBe('runtime.v1.ImageService');
  });
  it('parses endpoints as crictl does', () => {
    expect(parseEndpoint('unix:///run/podkit/podkitd.sock')).toEqual({ target: 'unix:///run/podkit/podkitd.sock', path: '/run/podkit/podkitd.sock' });
    expect(parseEndpoint('/run/x.sock').target).toBe('unix:///run/x.sock');
    expect(() => parseEndpoint('tcp://1.2.3.4:5')).toThrow(/unsupported scheme/);
    expect(() => parseEndpoint('relative.sock')).toThrow(/absolute socket path/);
    expect(() => parseEndpoint('')).toThrow(/non-empty/);
  });
});
