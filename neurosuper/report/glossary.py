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
    "frac_above_null": "Share of directions whose II is above the 95th percentile of random stimulus sets "
    "(descriptive: about 5% by chance alone; not a test).",
    "p_population": "One-sided permutation test that the population is more interpretable than chance: the mean II "
    "of all units against its value when the stimuli are randomly relabelled, every unit alike (valid whatever the "
    "dependence between units).",
    "n_permutations": "Random relabellings of the stimuli in the population test (its smallest p is 1/(n + 1)).",
    "n_units_significant": "Units whose II is above chance at the false discovery rate fdr: Benjamini–Hochberg on each "
    "unit's permutation p-value, (1 + #{random stimulus sets with II ≥ the unit's}) / (1 + n_null).",
    "fraction_significant": "Share of the scored units that are above chance at the false discovery rate fdr.",
    "n_significant": "Units of the group above chance (Benjamini–Hochberg over all units, at the rate fdr).",
    "fdr": "False discovery rate of the per-unit decision: on average at most this share of the units called above "
    "chance are not.",
    "n_dead_units": "Units with the same response to every stimulus: no stimulus excites them more than another.",
    "mean_2afc_accuracy": "Mean accuracy of a simulated observer choosing, from two queries, the one that drives the "
    "unit most, given its reference stimuli (0.5: chance).",
    "mean_lifetime_sparseness": "Mean Vinje–Gallant lifetime sparseness: 0 for a unit answering every stimulus "
    "alike, 1 for a unit answering one.",
    "similarity": "How stimuli are compared for the II (gabor: oriented energy on a coarse grid; pixels; features).",
    "k": "Number of most exciting stimuli (MEIs) per unit.",
    # directions
    "p_vs_units": "One-sided test that this method's directions are more interpretable than the units: the gain in "
    "mean II on the held-out stimuli over its delete-a-group jackknife standard error, Student's t (valid although "
    "directions and units share stimuli).",
    "p_vs_units_holm": "p_vs_units adjusted (Holm) for testing every method against the units: below 0.05, the "
    "method is significantly more interpretable than the units.",
    "ii_gain_vs_units": "Mean II of this method's directions minus that of the units, on the held-out stimuli.",
    "n_groups": "Groups of held-out stimuli the test's jackknife leaves out in turn (0: no test).",
    "best_method_significant": "Whether best_method is significantly more interpretable than the units "
    "(p_vs_units_holm < 0.05); otherwise it is only the highest, not the best.",
    "methods_above_units": "Methods significantly more interpretable than the units (p_vs_units_holm < 0.05), the "
    "largest gain first.",
    "auc_vs_units": "Probability that a random direction of this method has a higher II than a random unit (0.5: "
    "no difference; descriptive, not a test: directions and units share stimuli).",
    "median_sparseness": "Median lifetime sparseness of the directions' responses.",
    "n_fit": "Stimuli the directions were fitted on.",
    "n_score": "Held-out stimuli the II was scored on.",
    "best_method": "The method with the highest median II; called best only when best_method_significant, else "
    "the highest, not significantly above the units.",
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
