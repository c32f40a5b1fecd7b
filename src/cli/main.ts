// The memcoop command: one file per subcommand, loaded on demand so `decide` does not pay for
// the simulator or the native addon.
const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  decide: { summary: 'run the policy once on JSON input (stdin or FILE) and print the decision', load: () => import('./decide.ts') },
  replay: { summary: 'feed a recorded journal into a fresh supervisor and print its decisions', load: () => import('./replay.ts') },
  sim: { summary: 'run the supervisor against the embedded simulated host', load: () => import('./sim.ts') },
  run: { summary: 'run the daemon against a real host (--host xen or --host kvm) or a simulated one (--host sim)', load: () => import('./run.ts') },
  status: { summary: "the running daemon's view of the host, Dom0 and every guest (--json, --watch)", load: () => import('./status.ts') },
  explain: { summary: "why the running daemon's last tick gave each guest its goal and step", load: () => import('./explain.ts') },
  reserve: { summary: 'make room for a domain about to start (SIZE [--for S]; --release ID)', load: () => import('./reserve.ts') },
  dev: { summary: 'dev xenstored: a real xenstored to try memcoop on without Xen, with the commands to use it', load: () => import('./dev.ts') },
  inspect: { summary: 'relay inspector events (a file, or live runs) to the Stately inspector', load: () => import('./inspect.ts') },
  chart: { summary: "write each machine's statechart as Mermaid and SVG", load: () => import('./chart.ts') },
};

export function usage(): string {
  const lines = ['usage: memcoop <command> [options]', '       memcoop help <command>', '       memcoop --version', '', 'commands:'];
  for (const [name, s] of Object.entries(SUBCOMMANDS)) lines.push(`  ${name.padEnd(8)} ${s.summary}`);
  lines.push('', "'memcoop <command> --help' (or 'memcoop help <command>') describes each command.");
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-V') {
    const { version } = await import('./version.ts');
    console.log(`memcoop ${version()}`);
    return 0;
  }
  // `memcoop help sim` is `memcoop sim --help`.
  if (cmd === 'help' && rest.length > 0) return main([rest[0]!, '--help']);
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return cmd === undefined ? 2 : 0;
  }
  const sub = SUBCOMMANDS[cmd];
  if (!sub) {
    console.error(`memcoop: unknown command '${cmd}'\n\n${usage()}`);
    return 2;
  }
  const mod = await sub.load();
  return mod.run(rest);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
