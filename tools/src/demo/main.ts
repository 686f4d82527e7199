/**
 * `npm run demo`: podkit's main job with embedded defaults. Until the tutorial's pod runs end to end it
 * validates and prints a sample OCI config and image manifest.
 */
import { buildSample } from './sample';

export function main(): void {
  const report = buildSample();
  const out = process.stdout;
  out.write('podkit demo: a sample OCI runtime config, validated by @podkit/oci-spec\n');
  out.write(`${JSON.stringify(report.config, null, 2)}\n\n`);
  out.write('podkit demo: a sample OCI image manifest, validated\n');
  out.write(`${JSON.stringify(report.manifest, null, 2)}\n\n`);
  out.write('podkit demo: a broken config is rejected with the path of every problem:\n');
  for (const i of report.rejected) out.write(`  ${i.path || '/'}: ${i.reason}\n`);
  out.write(report.rejected.length > 0 ? 'PASS sample config and manifest valid; broken config rejected\n' : 'FAIL broken config accepted\n');
  if (report.rejected.length === 0) process.exitCode = 1;
}

if (require.main === module) main();
