// An SVG line plot of each guest's balloon size over a trial (from the bench's 1 s query-balloon
// samples), one colour per guest, the pool as a dashed line. No dependencies: a few elements.

export interface Series { name: string; points: { t: number; mib: number }[] }

const W = 720, H = 320, PAD = 48;
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function allocationSvg(title: string, series: Series[], poolMiB?: number): string {
  const tMax = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.t)));
  const yMax = Math.max(64, poolMiB ?? 0, ...series.flatMap((s) => s.points.map((p) => p.mib))) * 1.05;
  const x = (t: number) => PAD + (t / tMax) * (W - 2 * PAD);
  const y = (m: number) => H - PAD - (m / yMax) * (H - 2 * PAD);
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    `<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="black"/>`,
    `<line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">seconds</text>`,
    `<text x="12" y="${H / 2}" transform="rotate(-90 12 ${H / 2})" text-anchor="middle">balloon MiB</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const m = (yMax / 4) * i, t = (tMax / 4) * i;
    parts.push(`<text x="${PAD - 4}" y="${y(m) + 4}" text-anchor="end">${Math.round(m)}</text>`);
    parts.push(`<text x="${x(t)}" y="${H - PAD + 14}" text-anchor="middle">${Math.round(t)}</text>`);
  }
  if (poolMiB !== undefined) {
    parts.push(`<line x1="${PAD}" y1="${y(poolMiB)}" x2="${W - PAD}" y2="${y(poolMiB)}" stroke="grey" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${W - PAD}" y="${y(poolMiB) - 3}" text-anchor="end" fill="grey">pool ${poolMiB}</text>`);
  }
  series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length]!;
    const pts = s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.mib).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${pts}"/>`);
    parts.push(`<text x="${PAD + 8}" y="${PAD + 14 * i}" fill="${c}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
