import { resolveEndpoint } from './index';

describe('podctl endpoint', () => {
  it('prefers the flag, then the environment, then podkitd', () => {
    expect(resolveEndpoint('unix:///a.sock', { CONTAINER_RUNTIME_ENDPOINT: '/b.sock' }).path).toBe('/a.sock');
    expect(resolveEndpoint(undefined, { CONTAINER_RUNTIME_ENDPOINT: '/b.sock' }).path).toBe('/b.sock');
    expect(resolveEndpoint(undefined, {}).path).toBe('/run/podkit/podkitd.sock');
  });
});
