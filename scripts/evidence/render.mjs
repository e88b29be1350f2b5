/**
 * docs/WARM.md's generated tables and docs/warm/*.svg, from docs/warm/{interpolation,m-curve,cost}.json.
 * Tables go between `<!-- warm:NAME:begin -->` and `<!-- warm:NAME:end -->` in WARM.md (the
 * prose around them is written by hand and kept).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, lineChart } from '../../bench/svg.mjs';

const SPLIT_NAMES = { validation: 'validation', ood: 'OOD' };
const pct = (x, digits = 1) => (100 * x).toFixed(digits);
const f = (x, digits = 3) => x.toFixed(digits);
const row = (cells) => `| ${cells.join(' | ')} |`;
const table = (header, rows) => [row(header), row(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(row)].join('\n');
const p = (x) => (x < 0.001 ? '<0.001' : x.toFixed(2));
/** "+0.4 (31/28, p 0.79)": accuracy difference in points, pairs only the first / only the second gets right, McNemar p. */
const diff = (a, b, cmp) => `${a - b >= 0 ? '+' : '−'}${pct(Math.abs(a - b))} (${cmp.a_only}/${cmp.b_only}, p ${p(cmp.p_mcnemar)})`;
const when = (iso) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
/** "−0.0006 (p 0.03)": paired mean log-loss difference and its z-test p. */
const llDiff = (cmp) => `${cmp.log_loss_diff >= 0 ? '+' : '−'}${f(Math.abs(cmp.log_loss_diff), 4)} (p ${p(cmp.p_log_loss)})`;
const runLine = (r) => `Run ${when(r.date)}, ${r.minutes.toFixed(1)} min, load average (1/5/15 min) ${r.load_average_start} at start, ${r.load_average_end} at end. Command: \`${r.command}\`.`;
/** For accuracy results: the scoring behind them may come from the reward cache of earlier runs. */
const scoringLine = (r) => `Command: \`${r.command}\` (last run ${when(r.date)}). Behind it: ${r.scoring.models} distinct models, each scored once on all ${r.splits.validation.pairs + r.splits.ood.pairs} pairs through the server's scoring service, ${when(r.scoring.first_scored)} to ${when(r.scoring.last_scored)} (${r.scoring.scoring_minutes.toFixed(1)} min of scoring on the shared 2-core machine; a rerun takes its rewards from the cache in os.tmpdir(), ${r.scoring.scored_this_run} scored in the last run).`;

function membersTable(r) {
  return table(['member', 'validation acc. % (95% CI)', 'val. log-loss', 'OOD acc. % (95% CI)', 'OOD log-loss'], r.members.map((m) => [
    m.name,
    `${pct(m.validation.accuracy, 2)} (${pct(m.validation.ci95[0])}–${pct(m.validation.ci95[1])})`, f(m.validation.log_loss, 4),
    `${pct(m.ood.accuracy, 2)} (${pct(m.ood.ci95[0])}–${pct(m.ood.ci95[1])})`, f(m.ood.log_loss, 4),
  ]));
}

function interpolationBlock(r, dir) {
  const splits = Object.keys(SPLIT_NAMES);
  const interior = r.points.filter((pt) => pt.lambda > 0 && pt.lambda < 1);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const gains = splits.map((s) => {
    const acc = mean(interior.map((pt) => pt[s].wa.accuracy - pt[s].line.accuracy));
    const ll = mean(interior.map((pt) => pt[s].line.log_loss - pt[s].wa.log_loss));
    const ensLl = mean(interior.map((pt) => pt[s].line.log_loss - pt[s].ens.log_loss));
    return `${SPLIT_NAMES[s]}: WA − line = ${acc >= 0 ? '+' : '−'}${pct(Math.abs(acc), 2)} points of accuracy; WA's log-loss ${f(ll, 4)} nats below the line (ENS's: ${f(ensLl, 4)})`;
  });
  const lines = [
    scoringLine(r),
    '',
    `Members: **${r.members[0]}** (λ = 0) and **${r.members[1]}** (λ = 1), ${r.choice}; their weight distance (L2 over all tensors, from the reference merge card) is ${r.distance}, rank ${r.distance_rank} of ${r.pairs} member pairs (1 = most distant). Pairs: validation ${r.splits.validation.pairs}, OOD ${r.splits.ood.pairs}.`,
    '',
    'Accuracy (%). WA = the merged model (1−λ)·θ1 + λ·θ2; ENS = (1−λ)·r1 + λ·r2; line = (1−λ)·acc1 + λ·acc2. WA − ENS: points, then (pairs only WA ranks right / only ENS does, McNemar exact p).',
    '',
    table(['λ', ...splits.flatMap((s) => [`${SPLIT_NAMES[s]} WA`, 'ENS', 'line', 'WA − ENS']) ], r.points.map((pt) => [
      pt.lambda.toFixed(1),
      ...splits.flatMap((s) => [pct(pt[s].wa.accuracy, 2), pct(pt[s].ens.accuracy, 2), pct(pt[s].line.accuracy, 2), diff(pt[s].wa.accuracy, pt[s].ens.accuracy, pt[s].wa_vs_ens)]),
    ])),
    '',
    'Mean Bradley-Terry log-loss −log σ(r_chosen − r_rejected) (nats, lower is better). WA − ENS: mean per-pair difference (paired z-test p).',
    '',
    table(['λ', ...splits.flatMap((s) => [`${SPLIT_NAMES[s]} WA`, 'ENS', 'line', 'WA − ENS'])], r.points.map((pt) => [
      pt.lambda.toFixed(1),
      ...splits.flatMap((s) => [f(pt[s].wa.log_loss, 4), f(pt[s].ens.log_loss, 4), f(pt[s].line.log_loss, 4), llDiff(pt[s].wa_vs_ens)]),
    ])),
    '',
    'Mean reward margin r_chosen − r_rejected (the line is ENS\'s, by construction):',
    '',
    table(['λ', ...splits.flatMap((s) => [`${SPLIT_NAMES[s]} WA`, 'ENS'])], r.points.map((pt) => [
      pt.lambda.toFixed(1), ...splits.flatMap((s) => [f(pt[s].wa.margin), f(pt[s].ens.margin)]),
    ])),
    '',
    `Mean over λ = 0.1..0.9: ${gains.join('; ')}.`,
    '',
    '![Interpolation: validation accuracy against λ](warm/interpolation.validation.svg)',
    '![Interpolation: OOD accuracy against λ](warm/interpolation.ood.svg)',
    '![Interpolation: log-loss below the straight line, against λ](warm/interpolation.logloss.svg)',
  ];
  const xTicks = r.points.map((pt) => pt.lambda);
  const title = (what) => `(1−λ)·${r.members[0]} + λ·${r.members[1]}: ${what}`;
  for (const s of splits) {
    writeFileSync(join(dir, `interpolation.${s}.svg`), lineChart({
      title: title(`accuracy, ${SPLIT_NAMES[s]}`), xLabel: 'λ', yLabel: 'pairwise accuracy (%)', linearX: true, xTicks, zoomY: true,
      series: [
        { name: 'WA (weights)', points: r.points.map((pt) => [pt.lambda, 100 * pt[s].wa.accuracy]) },
        { name: 'ENS (rewards)', points: r.points.map((pt) => [pt.lambda, 100 * pt[s].ens.accuracy]) },
        { name: 'straight line', dash: '6 4', color: '#7f7f7f', points: r.points.map((pt) => [pt.lambda, 100 * pt[s].line.accuracy]) },
      ],
    }));
  }
  // The two splits' log-losses sit at different levels; the gain over the straight line puts both on one axis.
  writeFileSync(join(dir, 'interpolation.logloss.svg'), lineChart({
    title: title('log-loss below the line'), xLabel: 'λ', yLabel: 'line − model log-loss (nats)', linearX: true, xTicks, zoomY: true,
    series: splits.flatMap((s) => ['wa', 'ens'].map((kind) => ({
      name: `${SPLIT_NAMES[s]} ${kind === 'wa' ? 'WA' : 'ENS'}`,
      dash: kind === 'ens' ? '6 4' : undefined,
      points: r.points.map((pt) => [pt.lambda, pt[s].line.log_loss - pt[s][kind].log_loss]),
    }))),
  }));
  return lines.join('\n');
}

function mCurveBlock(r, dir) {
  const splits = Object.keys(SPLIT_NAMES);
  const best = r.best_first.steps;
  const sd = (s) => `${pct(s.mean, 2)} ± ${pct(s.sd, 2)} (${pct(s.min)}–${pct(s.max)})`;
  const lines = [
    scoringLine(r),
    '',
    'Members alone (M = 1):',
    '',
    membersTable(r),
    '',
    `All six members rank ${pct(r.members_unanimous.validation)} % of validation pairs and ${pct(r.members_unanimous.ood)} % of OOD pairs the same way (all right or all wrong).`,
    '',
    `**Best-first** (order by validation accuracy: ${r.best_first.order.join(', ')}). Accuracy (%); WARM − ENS and WARM − first member: points (pairs only WARM ranks right / only the other does, McNemar exact p). The order was chosen on validation, so validation numbers for M < 6 are optimistic; OOD is untouched by the choice.`,
    '',
    table(['M', ...splits.flatMap((s) => [`${SPLIT_NAMES[s]} WARM`, 'ENS', 'WARM − ENS', `WARM − ${r.best_first.order[0]}`])], best.map((st) => [
      st.M,
      ...splits.flatMap((s) => [pct(st[s].warm.accuracy, 2), pct(st[s].ens.accuracy, 2), diff(st[s].warm.accuracy, st[s].ens.accuracy, st[s].warm_vs_ens), st.M === 1 ? '' : diff(st[s].warm.accuracy, r.best_first.steps[0][s].warm.accuracy, st[s].warm_vs_first)]),
    ])),
    '',
    'Best-first, mean Bradley-Terry log-loss (nats, lower is better); WARM − ENS: mean per-pair difference (paired z-test p):',
    '',
    table(['M', ...splits.flatMap((s) => [`${SPLIT_NAMES[s]} WARM`, 'ENS', 'WARM − ENS'])], best.map((st) => [st.M, ...splits.flatMap((s) => [f(st[s].warm.log_loss, 4), f(st[s].ens.log_loss, 4), llDiff(st[s].warm_vs_ens)])])),
    '',
    `**Random order**, ${r.seeds.length} seeds (${r.random.map((x) => `seed ${x.seed}: ${x.order.map((n) => n.replace('member-', '')).join('')}`).join('; ')}; digits are member numbers). Accuracy (%), mean ± sample s.d. (min–max) over the seeds; at M = 6 every order is the same model.`,
    '',
    table(['M', ...splits.flatMap((s) => [`${SPLIT_NAMES[s]} WARM`, 'ENS'])], r.random_summary.map((st) => [st.M, ...splits.flatMap((s) => [sd(st[s].warm.accuracy), sd(st[s].ens.accuracy)])])),
    '',
    `Over all ${r.warm_vs_ens_over_subsets.ood.subsets} distinct member subsets with M ≥ 2 above (the orders share some), WARM against ENS: ${Object.entries(r.warm_vs_ens_over_subsets).map(([s, w]) => `${SPLIT_NAMES[s]}: lower log-loss in ${w.warm_lower_log_loss}, higher accuracy in ${w.warm_higher_accuracy} and lower in ${w.warm_lower_accuracy}`).join('; ')}. The subsets overlap, so these counts are not independent trials.`,
    '',
    '![M curve, validation](warm/m-curve.validation.svg)',
    '![M curve, OOD](warm/m-curve.ood.svg)',
  ];
  for (const s of splits) {
    // Random-order points are nudged right so their error bars (min–max over seeds) do not hide the others.
    const nudge = (kind, dx) => r.random_summary.map((st) => [st.M + dx, 100 * st[s][kind].accuracy.mean, 100 * st[s][kind].accuracy.min, 100 * st[s][kind].accuracy.max]);
    writeFileSync(join(dir, `m-curve.${s}.svg`), lineChart({
      title: `WARM and ENS against M, ${SPLIT_NAMES[s]} (${r.splits[s].pairs} pairs)`,
      xLabel: 'M (members averaged)',
      yLabel: 'pairwise accuracy (%)',
      linearX: true,
      xTicks: best.map((st) => st.M),
      zoomY: true,
      series: [
        { name: 'WARM, best-first', points: best.map((st) => [st.M, 100 * st[s].warm.accuracy]) },
        { name: 'ENS, best-first', points: best.map((st) => [st.M, 100 * st[s].ens.accuracy]) },
        { name: `WARM, random (${r.seeds.length})`, dash: '6 4', points: nudge('warm', 0.06) },
        { name: `ENS, random (${r.seeds.length})`, dash: '6 4', points: nudge('ens', 0.12) },
      ],
    }));
  }
  return lines.join('\n');
}

function costBlock(r, dir) {
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cell = (M, kind, c) => {
    const runs = r.runs.filter((x) => x.M === M && x.kind === kind && x.concurrency === c);
    return {
      items: mean(runs.map((x) => x.items_per_s)), p50: mean(runs.map((x) => x.latency_ms.p50)), p99: mean(runs.map((x) => x.latency_ms.p99)),
      idle: mean(runs.map((x) => x.idle_rss_mb)), rss: mean(runs.map((x) => x.rss_mb)), hwm: Math.max(...runs.map((x) => x.hwm_mb)),
      errors: runs.reduce((a, x) => a + x.errors, 0), each: runs.map((x) => x.items_per_s.toFixed(1)).join(', '),
    };
  };
  const Ms = [...new Set(r.runs.map((x) => x.M))];
  const [lo, hi] = [Math.min(...r.concurrency), Math.max(...r.concurrency)];
  const rows = Ms.flatMap((M) => ['WARM', 'ENS'].flatMap((kind) => r.concurrency.map((c) => {
    const x = cell(M, kind, c);
    return [M, kind === 'WARM' ? 'WARM (plain serve)' : 'ENS (serve --ensemble, aggregate mean)', c, `${x.items.toFixed(1)} (${x.each})`, x.p50.toFixed(1), x.p99.toFixed(1), x.idle.toFixed(0), x.rss.toFixed(0), x.hwm.toFixed(0), x.errors];
  })));
  // Ratios are taken within each round (WARM and ENS ran next to each other) and the median kept:
  // the machine's background load moved a lot between rounds, less within one.
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const perRound = (M, c, value, enscost) => {
    const rounds = [...new Set(r.runs.map((x) => x.round))];
    const ratios = rounds.map((round) => {
      const [w, e] = ['WARM', 'ENS'].map((kind) => value(r.runs.find((x) => x.round === round && x.M === M && x.kind === kind && x.concurrency === c)));
      return enscost ? e / w : w / e;
    });
    return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
  };
  const ratios = Ms.map((M) => ({
    M,
    throughput: perRound(M, hi, (x) => x.items_per_s, false),
    throughput1: perRound(M, lo, (x) => x.items_per_s, false),
    p50: perRound(M, lo, (x) => x.latency_ms.p50, true),
    p99: perRound(M, hi, (x) => x.latency_ms.p99, true),
    rss: perRound(M, hi, (x) => x.rss_mb, true),
  }));
  const ratio = (x) => `${x.median.toFixed(2)}× (${x.min.toFixed(2)}–${x.max.toFixed(2)})`;
  const lines = [
    runLine(r),
    '',
    `Each configuration ran ${r.rounds} times (order reversed every other round), ${r.seconds} s measured per load level after a 2 s warm-up, single-item requests of real TL;DR and HH texts (bench/data.mjs), closed loop from a separate process (bench/load.mjs). M = 2 model: uniform merge of ${r.m2_members.join(' and ')}; M = 6: models/reference. Items/s: mean over rounds (each round in parentheses); latency: mean over rounds of each round's percentile; RSS: VmRSS of the server after start (idle) and after the load, and the peak VmHWM, MiB.`,
    '',
    table(['M', 'server', 'clients', 'items/s', 'p50 ms', 'p99 ms', 'RSS idle', 'RSS loaded', 'RSS peak', 'errors'], rows),
    '',
    'ENS ÷ WARM cost ratios, each taken within one round, median of the rounds (min–max):',
    '',
    table(['M', `throughput, ${hi} clients (WARM items/s ÷ ENS)`, `throughput, ${lo} client`, `p50 latency, ${lo} client (ENS ÷ WARM)`, `p99 latency, ${hi} clients (ENS ÷ WARM)`, `RSS after ${hi} clients (ENS ÷ WARM)`],
      ratios.map((x) => [x.M, `**${ratio(x.throughput)}**`, ratio(x.throughput1), ratio(x.p50), ratio(x.p99), ratio(x.rss)])),
    '',
    '![ENS ÷ WARM cost ratios](warm/cost.svg)',
  ];
  writeFileSync(join(dir, 'cost.svg'), barChart({
    title: 'What ENS costs ÷ what WARM costs',
    xLabel: 'ratio (1 = same cost)',
    bars: ratios.flatMap((x) => [
      { name: `M=${x.M}: 1 / items/s (${hi} cl.)`, value: x.throughput.median },
      { name: `M=${x.M}: p50 (${lo} client)`, value: x.p50.median },
      { name: `M=${x.M}: p99 (${hi} clients)`, value: x.p99.median },
      { name: `M=${x.M}: RSS`, value: x.rss.median },
    ]),
  }));
  return lines.join('\n');
}

const BLOCKS = { interpolation: interpolationBlock, 'm-curve': mCurveBlock, cost: costBlock };

/** Render every result whose JSON exists into `dir`'s SVGs and `docFile`'s generated blocks. */
export function render(dir, docFile, log) {
  if (!existsSync(docFile)) throw new Error(`${docFile} is missing: it holds the prose around the generated tables`);
  let doc = readFileSync(docFile, 'utf8');
  for (const [name, block] of Object.entries(BLOCKS)) {
    const file = join(dir, `${name}.json`);
    if (!existsSync(file)) continue;
    const begin = `<!-- warm:${name}:begin (generated by scripts/evidence/warm-evidence.mjs; edits inside are overwritten) -->`;
    const end = `<!-- warm:${name}:end -->`;
    const text = block(JSON.parse(readFileSync(file, 'utf8')), dir);
    const [head, rest] = doc.split(begin);
    if (rest === undefined || !rest.includes(end)) {
      log(`docs/WARM.md has no ${name} block; rendered docs/warm/${name}*.svg only`);
      continue;
    }
    doc = `${head}${begin}\n${text}\n${end}${rest.slice(rest.indexOf(end) + end.length)}`;
    log(`rendered ${name} (docs/warm/${name}*.svg, docs/WARM.md)`);
  }
  writeFileSync(docFile, doc);
}
