import { isInvalidArgument } from '@podkit/errdefs';
import {
  isConfigMediaType,
  isIndexMediaType,
  isLayerMediaType,
  isManifestMediaType,
  isNonDistributableMediaType,
  layerCompression,
  MediaType,
} from './index';

describe('media types', () => {
  it('has the OCI and Docker names', () => {
    expect(MediaType.ImageManifest).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(MediaType.ImageIndex).toBe('application/vnd.oci.image.index.v1+json');
    expect(MediaType.ImageConfig).toBe('application/vnd.oci.image.config.v1+json');
    expect(MediaType.LayerZstd).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    expect(MediaType.LayerNonDistributableGzip).toBe('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip');
    expect(MediaType.DockerManifest).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(MediaType.DockerManifestList).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(MediaType.DockerConfig).toBe('application/vnd.docker.container.image.v1+json');
    expect(MediaType.DockerLayerGzip).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
    expect(MediaType.DockerForeignLayer).toBe('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip');
  });

  it('classifies manifests, indexes, configs and layers', () => {
    expect(isManifestMediaType(MediaType.ImageManifest)).toBe(true);
    expect(isManifestMediaType(MediaType.DockerManifest)).toBe(true);
    expect(isManifestMediaType(`${MediaType.DockerManifest}; charset=utf-8`)).toBe(true);
    expect(isManifestMediaType(MediaType.ImageIndex)).toBe(false);
    expect(isIndexMediaType(MediaType.ImageIndex)).toBe(true);
    expect(isIndexMediaType(MediaType.DockerManifestList)).toBe(true);
    expect(isIndexMediaType(MediaType.ImageManifest)).toBe(false);
    expect(isConfigMediaType(MediaType.DockerConfig)).toBe(true);
    expect(isConfigMediaType(MediaType.LayerGzip)).toBe(false);
    for (const t of [MediaType.Layer, MediaType.LayerGzip, MediaType.LayerZstd, MediaType.LayerNonDistributable, MediaType.DockerLayerGzip, MediaType.DockerForeignLayer]) {
      expect(isLayerMediaType(t)).toBe(true);
    }
    expect(isLayerMediaType(MediaType.ImageConfig)).toBe(false);
    expect(isNonDistributableMediaType(MediaType.LayerNonDistributableZstd)).toBe(true);
    expect(isNonDistributableMediaType(MediaType.DockerForeignLayer)).toBe(true);
    expect(isNonDistributableMediaType(MediaType.LayerGzip)).toBe(false);
  });

  it('layerCompression', () => {
    expect(layerCompression(MediaType.Layer)).toBe('none');
    expect(layerCompression(MediaType.LayerGzip)).toBe('gzip');
    expect(layerCompression(MediaType.LayerZstd)).toBe('zstd');
    expect(layerCompression(MediaType.LayerNonDistributable)).toBe('none');
    expect(layerCompression(MediaType.LayerNonDistributableGzip)).toBe('gzip');
    expect(layerCompression(MediaType.LayerNonDistributableZstd)).toBe('zstd');
    expect(layerCompression(MediaType.DockerLayer)).toBe('none');
    expect(layerCompression(MediaType.DockerLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaType.DockerForeignLayer)).toBe('gzip');
    expect(layerCompression('application/vnd.example.layer.v1.tar+zstd')).toBe('zstd');
    expect(layerCompression('application/vnd.example.layer.v1.tar')).toBe('none');
    try {
      layerCompression(MediaType.ImageConfig);
      throw new Error('not reached');
    } catch (err) {
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message).toBe(`mediaType: "${MediaType.ImageConfig}" is not a layer media type`);
    }
  });
});
