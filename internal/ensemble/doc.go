// Package ensemble turns per-probe predictions into scanner attributions,
// as the paper's artifact does (docs/paper-faithful.md §5):
//
//  1. VoteProbes: per (IP, service, window) the mode of the probe
//     predictions, ties to the smallest class index (pandas'
//     Series.mode()[0]), so the unknown class K loses every tie. A caller
//     may mark predictions weak (a payload many other scanners send);
//     a group with a strong prediction then votes among its strong ones
//     only. Windows
//     are [Origin + i·Length, Origin + (i+1)·Length); the artifact uses
//     7-day windows from a 16:00 UTC day boundary for the training rows,
//     drops the trailing partial window, and one window over the whole
//     test period.
//  2. Features: per service, one indicator per vote value seen in the
//     fitting rows (ascending), then a "service absent" indicator — which,
//     like the NaN category of sklearn's OneHotEncoder in the artifact,
//     exists only when some fitting row lacked the service (in practice
//     always). Values or absence unseen at fit time encode as all zeros.
//     With Config.MultiHot every value predicted in the group is set
//     (IPRow.Seen), not only the vote.
//  3. Fit: one-vs-rest logistic regression (L2, C = 1, unpenalised
//     intercept) fitted on known-class rows only. class_weight='balanced'
//     is applied by sklearn to each binary problem, not to the multiclass
//     counts: positives weigh n/(2·n_c), negatives n/(2·(n−n_c)). With two
//     classes a single classifier is fitted for the larger class index.
//     The objective is minimised with gonum's L-BFGS over the distinct
//     feature patterns (exactly the same optimum as over rows), to a
//     gradient norm of 1e-9 rather than sklearn's 1e-4.
//  4. Predict: sigmoids normalised to sum 1 (sklearn's OvR predict_proba;
//     [1−σ, σ] for two classes), argmax with ties to the first class;
//     unknown when the largest probability is below θ.
//  5. θ: the grid i·0.01, i = 0..100, on the known and unknown-class
//     training rows (unattributed excluded), maximising weighted F1; the
//     smallest θ wins among equal F1 (the artifact's strict ">" update).
//     The artifact's grid runs to 1.09, but θ above 1 labels every row
//     unknown, as 1.00 does, so it can never be chosen first.
//
// Save and Load persist a fitted model as versioned JSON.
package ensemble
