// Package verdict is the inference behind flipbench compare: it compares
// the rounds of a base and a head build, metric by metric, and decides
// which changes are regressions, the way benchstat's benchmath stands
// apart from its tables. Package report renders what it finds.
//
//   - [Compare] takes two runs (independent samples: the Mann-Whitney U
//     test, and the Hodges-Lehmann ratio of every head/base pair with the
//     bounds that invert it); [ComparePaired] one paired run (each round's
//     head/base ratio: the Wilcoxon signed-rank test and the bounds that
//     invert it). Counts that may be zero get a bootstrap of the ratio of
//     means. Each side's median and interval come from benchmath.
//   - A metric regresses only when its change is significant and its whole
//     bound lies beyond the threshold in the bad direction; it fails the
//     comparison only if it is gated ([Options], [DefaultGates]).
//   - The result, a [Comparison] of [Delta]s, is data: JSON (schema
//     [CompareSchema]) and what report turns into tables, Markdown and
//     JUnit.
//
// Its own error rates are measured by package verdict/simulate.
package verdict
