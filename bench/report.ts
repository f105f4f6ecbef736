import type { LoadResult } from "./load-generator.js";

export interface BenchPoint {
  target: string;
  /** The median run of this point (by tokens/s). */
  result: LoadResult;
  /** Tokens/s of every round, to show the spread. */
  allTokensPerSecond?: number[];
}

/** Markdown table: one row per concurrency and target, with the first target's ratio to each other one. */
export function markdownTable(points: readonly BenchPoint[]): string {
  const targets = [...new Set(points.map((p) => p.target))];
  const levels = [...new Set(points.map((p) => p.result.concurrency))];
  const lines = [
    "| streams | target | tok/s (median) | all rounds | req/s | TTFT p50 / p90 / p99 ms | ITL p50 / p99 ms | e2e p50 ms | cached tok/req | errors | bench process cores |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const level of levels) {
    for (const target of targets) {
      const point = points.find((p) => p.target === target && p.result.concurrency === level);
      if (!point) continue;
      const r = point.result;
      lines.push(
        `| ${level} | ${target} | ${r.tokensPerSecond} | ${(point.allTokensPerSecond ?? [r.tokensPerSecond]).join(", ")} | ${r.requestsPerSecond} | ${r.ttftMs.p50} / ${r.ttftMs.p90} / ${r.ttftMs.p99} | ${r.itlMs.p50} / ${r.itlMs.p99} | ${r.e2eMs.p50} | ${r.cachedTokensMean} | ${r.errors} | ${r.clientCores} |`,
      );
    }
  }
  if (targets.length > 1) {
    const [first, ...others] = targets;
    lines.push("", `| streams | ${others.map((o) => `${first} / ${o} (tok/s)`).join(" | ")} |`, `|---|${others.map(() => "---|").join("")}`);
    for (const level of levels) {
      const base = points.find((p) => p.target === first && p.result.concurrency === level)?.result.tokensPerSecond;
      const ratios = others.map((o) => {
        const other = points.find((p) => p.target === o && p.result.concurrency === level)?.result.tokensPerSecond;
        return base && other ? (base / other).toFixed(2) : "–";
      });
      lines.push(`| ${level} | ${ratios.join(" | ")} |`);
    }
  }
  return lines.join("\n");
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];

/** Two line charts side by side: aggregate tok/s and TTFT p50 against concurrency, one line per target. */
export function svgChart(points: readonly BenchPoint[], title: string): string {
  const targets = [...new Set(points.map((p) => p.target))];
  const levels = [...new Set(points.map((p) => p.result.concurrency))].sort((a, b) => a - b);
  const panel = (x0: number, label: string, value: (r: LoadResult) => number) => {
    const w = 380;
    const h = 240;
    const max = Math.max(1, ...points.map((p) => value(p.result)).filter(Number.isFinite)) * 1.1;
    const px = (i: number) => x0 + 50 + (levels.length === 1 ? w / 2 : (i * w) / (levels.length - 1));
    const py = (v: number) => 40 + h - (v / max) * h;
    const parts = [
      `<text x="${x0 + 50 + w / 2}" y="28" text-anchor="middle" font-weight="bold">${label}</text>`,
      `<line x1="${x0 + 50}" y1="${40 + h}" x2="${x0 + 50 + w}" y2="${40 + h}" stroke="#333"/>`,
      `<line x1="${x0 + 50}" y1="40" x2="${x0 + 50}" y2="${40 + h}" stroke="#333"/>`,
      ...[0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${x0 + 44}" y="${py(max * f) + 4}" text-anchor="end" font-size="10">${Math.round(max * f)}</text>`),
      ...levels.map((l, i) => `<text x="${px(i)}" y="${40 + h + 16}" text-anchor="middle" font-size="11">${l}</text>`),
      `<text x="${x0 + 50 + w / 2}" y="${40 + h + 34}" text-anchor="middle" font-size="11">concurrent streams</text>`,
    ];
    targets.forEach((target, t) => {
      const coords = levels
        .map((l, i) => {
          const r = points.find((p) => p.target === target && p.result.concurrency === l)?.result;
          return r && Number.isFinite(value(r)) ? `${px(i)},${py(value(r))}` : undefined;
        })
        .filter(Boolean);
      parts.push(`<polyline fill="none" stroke="${COLORS[t % COLORS.length]}" stroke-width="2" points="${coords.join(" ")}"/>`);
      for (const c of coords) parts.push(`<circle cx="${c!.split(",")[0]}" cy="${c!.split(",")[1]}" r="3" fill="${COLORS[t % COLORS.length]}"/>`);
    });
    return parts.join("\n");
  };
  const legend = targets.map((t, i) => `<text x="${60 + i * 200}" y="345" fill="${COLORS[i % COLORS.length]}" font-size="12">■ ${escapeXml(t)}</text>`).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="360" font-family="sans-serif">
<rect width="900" height="360" fill="white"/>
<text x="450" y="14" text-anchor="middle" font-size="12">${escapeXml(title)}</text>
${panel(0, "aggregate tokens/s", (r) => r.tokensPerSecond)}
${panel(450, "time to first token p50 (ms)", (r) => r.ttftMs.p50)}
${legend}
</svg>
`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}
