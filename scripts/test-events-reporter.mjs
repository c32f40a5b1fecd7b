// A node:test reporter that writes one JSON line per finished test or suite (name, file, line,
// whether it was a suite, its skip reason, pass or fail) for scripts/run-tests.mjs's summary.
export default async function* testEvents(source) {
  for await (const ev of source) {
    if (ev.type !== 'test:pass' && ev.type !== 'test:fail') continue;
    const d = ev.data;
    yield JSON.stringify({
      ok: ev.type === 'test:pass',
      name: d.name,
      file: d.file ?? null,
      line: d.line ?? null,
      suite: d.details?.type === 'suite',
      skip: d.skip === undefined ? null : d.skip === true ? 'skipped' : String(d.skip),
      todo: d.todo !== undefined,
    }) + '\n';
  }
}
