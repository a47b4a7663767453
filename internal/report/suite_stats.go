package report

import "math"

// Stat summarises one figure over the runs of a suite that measured it.
// What cannot be computed from the runs at hand is null in suite.json,
// never 0, which would read as a measurement: one run has no spread, and
// a mean of 0 has no coefficient of variation.
type Stat struct {
	N int `json:"n"`
	// Mean is the arithmetic mean of Values; 0 when N is 0.
	Mean float64 `json:"mean"`
	// SD is the sample standard deviation (divided by n−1); null for
	// N < 2.
	SD *float64 `json:"sd"`
	// CILow and CIHigh bound the 95 % confidence interval of the mean,
	// mean ± t(0.975, n−1)·sd/√n with Student's t; null for N < 2.
	CILow  *float64 `json:"ci95_low"`
	CIHigh *float64 `json:"ci95_high"`
	// CVPct is the coefficient of variation, 100·sd/|mean|; null for N < 2
	// or a mean of 0.
	CVPct *float64 `json:"cv_pct"`
	// Runs names the run each of Values came from, in the same order, so
	// that every figure can be traced to the bundle that measured it.
	Runs   []string  `json:"runs"`
	Values []float64 `json:"values"`
}

// NewStat computes the statistics of values, runs[i] naming the run that
// measured values[i].
func NewStat(runs []string, values []float64) Stat {
	s := Stat{N: len(values), Runs: append([]string{}, runs...), Values: append([]float64{}, values...)}
	if s.N == 0 {
		return s
	}
	// Summing differences from the first value keeps a run of equal
	// values exactly equal to their mean, without float dust that would
	// show as a tiny spread.
	ref := values[0]
	var sum float64
	for _, v := range values {
		sum += v - ref
	}
	s.Mean = ref + sum/float64(s.N)
	if s.N < 2 {
		return s
	}
	var sq float64
	for _, v := range values {
		sq += (v - s.Mean) * (v - s.Mean)
	}
	sd := math.Sqrt(sq / float64(s.N-1))
	half := StudentT975(s.N-1) * sd / math.Sqrt(float64(s.N))
	lo, hi := s.Mean-half, s.Mean+half
	s.SD, s.CILow, s.CIHigh = &sd, &lo, &hi
	if s.Mean != 0 {
		cv := 100 * sd / math.Abs(s.Mean)
		s.CVPct = &cv
	}
	return s
}

// HalfWidth is the half-width of the 95 % confidence interval, false when
// there is none.
func (s Stat) HalfWidth() (float64, bool) {
	if s.CILow == nil || s.CIHigh == nil {
		return 0, false
	}
	return (*s.CIHigh - *s.CILow) / 2, true
}

// StudentT975 is the 0.975 quantile of Student's t distribution with df
// degrees of freedom: the factor of a two-sided 95 % confidence interval.
// It is NaN for df < 1.
func StudentT975(df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	// P(T > t) = I_x(df/2, 1/2)/2 with x = df/(df+t²), which falls as t
	// grows; bisect for the t at which it is 0.025.
	tail := func(t float64) float64 {
		n := float64(df)
		return regIncBeta(n/2, 0.5, n/(n+t*t)) / 2
	}
	lo, hi := 0.0, 1000.0 // t(0.975, 1) = 12.7; nothing exceeds 1000
	for range 200 {
		mid := (lo + hi) / 2
		if tail(mid) > 0.025 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// regIncBeta is the regularized incomplete beta function I_x(a, b), by the
// continued fraction of Numerical Recipes (betai, betacf).
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log(1-x))
	// The fraction converges fast on this side of the mean; the other side
	// follows from the symmetry I_x(a, b) = 1 − I_(1−x)(b, a).
	if x < (a+1)/(a+b+2) {
		return front * betaFraction(a, b, x) / a
	}
	return 1 - front*betaFraction(b, a, 1-x)/b
}

// betaFraction evaluates the continued fraction of I_x(a, b) with the
// modified Lentz method.
func betaFraction(a, b, x float64) float64 {
	const (
		tiny = 1e-300
		eps  = 1e-15
	)
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 300; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
