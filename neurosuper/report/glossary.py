"""What the names in the report's tables mean: one sentence per summary key, shown when the mouse rests on it.

The keys are the leaf names the analyses' ``summary()`` functions write (``alpha``, ``p_vs_units``, …); a dotted
table row (``profile.ceiling``) is explained by its last part. Names not listed here are shown as they are.
"""

from __future__ import annotations

__all__ = ["GLOSSARY", "explain"]

GLOSSARY: dict[str, str] = {
    # spectra (Stringer et al. 2019)
    "alpha": "Power-law exponent of the covariance eigenspectrum: variance of the n-th dimension ∝ n^−α, fitted "
    "over the ranks listed (Stringer et al. 2019).",
    "alpha_ci": "95% bootstrap confidence interval of α over resamples of the stimuli (sampling spread only).",
    "alpha_true": "α of the simulation's noise-free generating spectrum, fitted over the same ranks.",
    "alpha_per_layer": "α of each layer's own spectrum.",
    "alpha_per_area": "α of each area's own spectrum.",
    "r2": "Fraction of the log–log spectrum's variance the power-law line explains over the fitted ranks (below "
    "0.9 the exponent depends on the range).",
    "ranks": "The ranks of the spectrum the power law was fitted over.",
    "participation_ratio": "(Σλ)² / Σλ²: how many dimensions the variance effectively spreads over.",
    "method": "The estimator used (cvPCA: cross-validated over repeats; PCA: includes noise variance).",
    # interpretability (Klindt et al. 2023)
    "mean_ii": "Mean interpretability index: the (negative) mean distance between a unit's most exciting stimuli; "
    "higher is more interpretable.",
    "median_ii": "Median interpretability index (higher is more interpretable).",
    "mean_ii_z": "Mean II as a z-score against random stimulus sets of the same size (0: chance).",
    "median_ii_z": "Median II as a z-score against random stimulus sets of the same size (0: chance).",
    "fraction_above_null": "Share of units whose II is above the 95th percentile of random stimulus sets.",
    "frac_above_null": "Share of directions whose II is above the 95th percentile of random stimulus sets.",
    "fraction_expected_by_chance": "The share expected above the null's 95th percentile by chance alone.",
    "p_above_chance": "One-sided binomial test that more units than the 5% expected by chance are above the null.",
    "n_dead_units": "Units with the same response to every stimulus: no stimulus excites them more than another.",
    "mean_2afc_accuracy": "Mean accuracy of a simulated observer choosing, from two queries, the one that drives the "
    "unit most, given its reference stimuli (0.5: chance).",
    "mean_lifetime_sparseness": "Mean Vinje–Gallant lifetime sparseness: 0 for a unit answering every stimulus "
    "alike, 1 for a unit answering one.",
    "similarity": "How stimuli are compared for the II (gabor: oriented energy on a coarse grid; pixels; features).",
    "k": "Number of most exciting stimuli (MEIs) per unit.",
    # directions
    "p_vs_units": "One-sided Mann–Whitney test that this method's directions have a higher II than the units.",
    "u_vs_units": "Mann–Whitney U statistic of this method's II against the units'.",
    "auc_vs_units": "Probability that a random direction of this method has a higher II than a random unit (0.5: "
    "no difference).",
    "median_sparseness": "Median lifetime sparseness of the directions' responses.",
    "n_fit": "Stimuli the directions were fitted on.",
    "n_score": "Held-out stimuli the II was scored on.",
    "best_method": "The method with the highest median II (significant or not).",
    "n_units_used": "Units the step used (a documented subset, see Reduced settings).",
    "n_units_total": "Units the set has; the step used n_units_used of them.",
    "n_stimuli_used": "Stimuli the step used (a documented subset, see Reduced settings).",
    "n_stimuli_total": "Stimuli the set has; the step used n_stimuli_used of them.",
    # capacity (Scherlis et al. 2022)
    "capacity": "Capacity C_i of each feature: the fraction of a dimension it gets (1 monosemantic, 0 ignored; "
    "Scherlis et al. 2022, eq. 3).",
    "capacity_sum": "Σ C_i: the dimensions the features use, out of n_dims.",
    "capacity_fraction": "Σ C_i / n_dims: the share of the available dimensions the features use.",
    "mean_capacity": "Mean C_i over the features.",
    "n_monosemantic": "Features with C_i ≥ 1 − tol: a dimension of their own.",
    "n_polysemantic": "Features with tol < C_i < 1 − tol: sharing dimensions.",
    "n_ignored": "Features with C_i ≤ tol.",
    "n_dims": "Dimensions available (units of the group, or hidden dimensions of a toy model).",
    "tol": "Tolerance of the monosemantic / ignored thresholds on C_i.",
    "loss": "Final training loss of the toy model.",
    # comparison
    "rsa": "Representational similarity: rank correlation of the two sets' dissimilarity matrices.",
    "cka": "Linear centred kernel alignment (Kornblith et al. 2019): 1 for the same geometry up to rotation and "
    "scale, biased upwards when units outnumber stimuli.",
    "cka_debiased": "CKA with the unbiased HSIC estimator (Song et al. 2012): near 0 for unrelated sets.",
    "procrustes": "Angular Procrustes shape distance (radians; 0 = the same shape, π/2 = unrelated).",
    "ceiling": "Noise ceiling: how well the target's own repeats agree (lower–upper bound); no model can exceed it.",
    "margin": "How far the best group's score is above the next group's.",
    "p_best": "Share of bootstrap resamples in which the best group stays the best.",
    "score": "Each group's similarity with the other set.",
    "ci": "95% bootstrap confidence interval over resamples of the stimuli.",
}


def explain(key: str) -> str | None:
    """The sentence for a (dotted) summary key, by its last part; None when the name is not in the glossary."""
    return GLOSSARY.get(str(key).rsplit(".", 1)[-1])
