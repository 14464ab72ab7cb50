package main

import (
	"github.com/spf13/pflag"

	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/openset"
	"github.com/scannergrouper/scannergrouper/internal/pipeline"
)

// trainingFlags are the model and ensemble settings that evaluate and train
// share, so that a setting measured with evaluate can be trained with.
type trainingFlags struct {
	paper                   bool
	backbone, selectMode    string
	iterations              int
	unknownShare, minPurity float64
	multiHot, crossFit      bool
	combiner                string
	maxOverAttribution      float64
	theta                   float64
	updateEvery             string
}

func (t *trainingFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&t.paper, "paper", false, "paper-faithful settings")
	fl.StringVar(&t.backbone, "backbone", "", "open-set backbone: mlp or wrn-10-2 (default mlp; wrn-10-2 with --paper)")
	fl.IntVar(&t.iterations, "iterations", 0, "training iterations per service (default 2000)")
	fl.StringVar(&t.selectMode, "select", "", "field selection: paper or default")
	fl.Float64Var(&t.unknownShare, "unknown-share", 1, "share of unattributed training scanners presumed unknown by the ensemble (lower: more attributions, more innocent scanners attributed)")
	fl.Float64Var(&t.minPurity, "min-purity", 0.5, "a probe is a strong vote for an org only if more than this share of the training IPs sending its encoding belong to the org (0: off, the paper's vote)")
	fl.BoolVar(&t.multiHot, "multi-hot", true, "give the ensemble every org each service predicted for an IP, not only the vote")
	fl.BoolVar(&t.crossFit, "cross-fit", false, "fit the ensemble on out-of-sample (2-fold) votes instead of in-sample ones")
	fl.StringVar(&t.combiner, "ensemble", "", "how per-IP evidence is combined: evidence (label memory, neighbourhood, payload senders, classifiers; the default) or vote (the paper's per-service vote and logistic regression; the default with --paper)")
	fl.Float64Var(&t.maxOverAttribution, "max-over-attribution", pipeline.DefaultMaxOverAttribution, "evidence ensemble: the over-attribution accepted: θ is the best-F1 threshold that gives an org to at most this share of the validation scanners presumed innocent")
	fl.Float64Var(&t.theta, "theta", 0, "evidence ensemble: decision threshold instead of the one chosen on the validation slice (0: chosen)")
	fl.StringVar(&t.updateEvery, "update-every", "7d", "incremental mode: the update period, 3d to 10d (each step trains on that much traffic)")
}

// options returns the defaults, or --paper's settings, with every flag the
// user gave applied.
func (t *trainingFlags) options(fl *pflag.FlagSet, seed uint64) (pipeline.Options, error) {
	opts := pipeline.Default(seed)
	if t.paper {
		opts = pipeline.Paper(seed)
	}
	if fl.Changed("update-every") {
		d, err := parseWindow(t.updateEvery)
		if err != nil || d < pipeline.MinUpdatePeriod || d > pipeline.MaxUpdatePeriod {
			return opts, usagef("--update-every %q: want a period from 3d to 10d", t.updateEvery)
		}
		opts.UpdateEvery = d
	}
	if fl.Changed("backbone") {
		if t.backbone != openset.BackboneWRN && t.backbone != openset.BackboneMLP {
			return opts, usagef("--backbone %q: want %s or %s", t.backbone, openset.BackboneWRN, openset.BackboneMLP)
		}
		opts.Backbone = t.backbone
	}
	if fl.Changed("iterations") {
		if t.iterations < 1 {
			return opts, usagef("--iterations must be ≥ 1")
		}
		opts.Iterations = t.iterations
	}
	if fl.Changed("select") {
		m, err := feature.ParseSelectMode(t.selectMode)
		if err != nil {
			return opts, usagef("%v", err)
		}
		opts.Select = m
	}
	if fl.Changed("unknown-share") {
		if t.unknownShare <= 0 || t.unknownShare > 1 {
			return opts, usagef("--unknown-share must be in (0, 1]")
		}
		opts.UnknownShare = t.unknownShare
	}
	if fl.Changed("min-purity") {
		if t.minPurity != 0 && (t.minPurity < 0.5 || t.minPurity >= 1) {
			return opts, usagef("--min-purity must be 0 (off) or in [0.5, 1)")
		}
		opts.MinPurity = t.minPurity
	}
	if fl.Changed("multi-hot") {
		opts.MultiHot = t.multiHot
	}
	if fl.Changed("cross-fit") {
		opts.CrossFit = t.crossFit
	}
	if fl.Changed("ensemble") {
		switch t.combiner {
		case "evidence":
			opts.Evidence = true
		case "vote":
			opts.Evidence = false
		default:
			return opts, usagef("--ensemble %q: want evidence or vote", t.combiner)
		}
	}
	if fl.Changed("max-over-attribution") {
		if t.maxOverAttribution <= 0 || t.maxOverAttribution > 1 {
			return opts, usagef("--max-over-attribution must be in (0, 1]")
		}
		opts.MaxOverAttribution = t.maxOverAttribution
	}
	if fl.Changed("theta") {
		if t.theta <= 0 || t.theta >= 1 {
			return opts, usagef("--theta must be in (0, 1)")
		}
		opts.Theta = t.theta
	}
	return opts, nil
}
