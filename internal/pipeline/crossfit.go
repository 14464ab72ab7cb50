package pipeline

import (
	"context"

	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// crossFitFolds is how many folds out-of-sample ensemble rows use.
const crossFitFolds = 2

// crossFitPredictions predicts every training probe of every service with a
// model that did not see its scanner: the training scanners are split into
// folds by a hash of their address, and each fold is predicted by a model
// (fields, layout, network, background) trained on the other folds. The
// ensemble then learns from votes as noisy as those on new traffic, where
// the artifact's in-sample votes are nearly perfect (training F1 0.92 on
// sd24 against 0.79 on the test part).
func crossFitPredictions(ctx context.Context, train *Data, classes *Classes, opts Options) (map[string][]int, error) {
	preds := map[string][]int{}
	for _, svc := range Services {
		probes, orgs := train.Probes[svc], train.Orgs[svc]
		if len(probes) == 0 {
			continue
		}
		out := make([]int, len(probes))
		for fold := 0; fold < crossFitFolds; fold++ {
			in := &Data{Probes: map[string][]probe.Probe{}, Orgs: map[string][]string{}}
			var heldIdx []int
			var held []probe.Probe
			for i, p := range probes {
				if ipFold(p) == fold {
					heldIdx = append(heldIdx, i)
					held = append(held, p)
				} else {
					in.Probes[svc] = append(in.Probes[svc], p)
					in.Orgs[svc] = append(in.Orgs[svc], orgs[i])
				}
			}
			if len(held) == 0 {
				continue
			}
			if !hasKnownLabel(in.Orgs[svc], classes) {
				unknown := classes.Unknown
				if opts.MinPurity > 0 {
					unknown = classes.weakVote(unknown)
				}
				for _, i := range heldIdx {
					out[i] = unknown
				}
				continue
			}
			sm, err := buildServiceModel(svc, in, classes, opts, feature.ModeFull)
			if err != nil {
				return nil, err
			}
			inImages := sm.Layout.EncodeAll(in.Probes[svc])
			if err := trainService(ctx, sm, inImages, in.Orgs[svc], classes, opts, opts.Iterations); err != nil {
				return nil, err
			}
			sm.Background = newBackground(opts)
			sm.Background.Add(inImages, in.Probes[svc], in.Orgs[svc], classes)
			p, err := predictVotes(sm, sm.Layout.EncodeAll(held), classes)
			if err != nil {
				return nil, err
			}
			for j, i := range heldIdx {
				out[i] = p[j]
			}
		}
		preds[svc] = out
	}
	return preds, nil
}

// ipFold assigns a scanner to a fold by its address (FNV-1a), so all of an
// IP's probes, in every service, fall in the same fold.
func ipFold(p probe.Probe) int {
	h := uint32(2166136261)
	for _, b := range p.SrcIP.AsSlice() {
		h ^= uint32(b)
		h *= 16777619
	}
	return int(h % crossFitFolds)
}
