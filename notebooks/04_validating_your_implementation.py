# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Validating your own implementation
#
# hessian_ref is meant as ground truth for other implementations of the
# loss, the gradient, the Hessian-vector product `H v`, the Hessian `H` and
# the damped inverse product `(H + eps I)^{-1} v` of a multilayer
# perceptron, written in PyTorch, JAX, C++ or anything else. It ships
# twenty *golden cases*, each one `.npz` file that NumPy alone can read, and a
# check that compares another implementation's answers with them and, where
# they disagree, says where: which quantity, which layer, weights or bias,
# and what kind of mistake it looks like (README, "Validating another
# implementation"; `hessian_ref/validate.py`).
#
# This notebook goes through that loop once, with a small implementation
# written here that has one planted bug:
#
# 1. export the cases to a temporary directory and look inside one;
# 2. write the other implementation: a NumPy MLP stored the way Flax stores
#    it, with a hand-written backward pass, `H v` by the complex step, and a
#    planted bug that real code has: the bias gradient is summed over the
#    batch where the loss is averaged;
# 3. check its answer files: first every parameter-indexed quantity fails,
#    because its flat vectors are in another layout; the `--layout` option
#    (`layouts.convert` in Python) removes that;
# 4. read what the check locates for the bug that remains, and draw it;
# 5. fix the bug and see every case pass;
# 6. see the diagnoses of the four faults of `hessian_ref/examples/faulty.py`
#    (a scale factor, the sign of `eps`, bias curvature, a transposed block).
#
# The expected values in the cases come from hessian_ref's structured
# routes: the backward recursion for the gradient (claim C1 of
# `paper/claims.md`), two sweeps for `H v` (C5) and the linear-in-depth solve
# for `(H + eps I)^{-1} v` (the Riccati sweep of derivation.md section 12,
# claim X4), each case cross-checked against a dense solve with the autograd
# Hessian when it has at most 400 parameters. Nothing is written into the
# repository: every file goes to a temporary directory removed at the end.

# %%
import contextlib
import io
import json
import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

from hessian_ref import cli
from hessian_ref.examples.faulty import FAULTS, faulty_answers
from hessian_ref.layouts import (
    FLAX_RAVEL_PYTREE,
    HESSIAN_REF,
    Layout,
    convert,
    convert_matrix,
    permutation,
)
from hessian_ref.validate import (
    QUANTITIES,
    check_answers,
    check_directory,
    export_suite,
    load_case,
    parameter_blocks,
    standard_suite,
    validate,
)

START = time.perf_counter()
TMP = tempfile.TemporaryDirectory(prefix="hessian_ref_nb04_")
CASES_DIR = os.path.join(TMP.name, "cases")
ANSWERS_DIR = os.path.join(TMP.name, "answers")

# %% [markdown]
# ## 1. The golden cases
#
# `standard_suite()` builds the twenty cases: one to 65 layers, widths 1 to
# 8, batches of 1 to 10 samples, every activation, both losses and both
# reductions, `eps` from `1e-8` to `1`, and an indefinite `H + eps I`.
# `export_suite(directory, cases)` writes them, one `<name>.npz` each; on the
# command line the same is
#
# ```
# hessian-ref export CASES_DIR
# ```
#
# (which builds the cases itself; here they are built once and reused).

# %%
t0 = time.perf_counter()
cases = standard_suite()
build_seconds = time.perf_counter() - t0
paths = export_suite(CASES_DIR, cases)
print(f"built {len(cases)} cases in {build_seconds:.1f} s; wrote {len(paths)} "
      f"files to a temporary directory")
print()
print(f"{'case':<24} {'L':>3} {'B':>3} {'P':>4} {'loss':<14} {'reduction':<9} "
      f"{'eps':>7} {'cond(H+eps I)':>13} {'tol inverse':>11}  H?")
for case in cases:
    print(f"{case.name:<24} {len(case.widths) - 1:>3} {len(case.X):>3} "
          f"{len(case.theta):>4} {case.loss:<14} {case.reduction:<9} "
          f"{case.eps:>7.0e} {case.condition:>13.1e} "
          f"{case.tolerance['inverse_hvp']:>11.1e}  "
          f"{'yes' if 'hessian' in case.expected else 'no'}")

# %% [markdown]
# ### What a case file holds
#
# A case is a plain `.npz`: the network (`widths`, `activations`, `loss`,
# `reduction`), its parameters twice (per layer as `W_l` of shape `(out, in)`
# and `b_l`, and flat as `theta` in hessian_ref's layout), the batch `X` and
# its `targets`, the vector `v` and the damping `eps` of the products, and the
# expected values with the relative error each is judged by. Here is
# `iris-10`, ten Iris flowers through four `tanh` layers of width 4.

# %%
with np.load(os.path.join(CASES_DIR, "iris-10.npz")) as data:
    for key in data.files:
        value = data[key]
        if value.ndim == 0:
            text = str(value) if value.dtype.kind == "U" else f"{value.item():.6g}"
            shown = f"= {text}" if len(text) <= 60 else f"= {text[:57]}..."
        else:
            shown = f"shape {value.shape}"
        print(f"{key:<22} {value.dtype!s:<8} {shown}")

# %% [markdown]
# Each quantity `q` is judged by its relative error `||answer - expected|| /
# ||expected||` (2-norm; Frobenius for `H`) against `tolerance_q`:
#
# * loss, gradient, `H v` and `H`: `1e-10` (`1e-12` per layer beyond 100
#   layers). Two careful float64 implementations differ only by rounding
#   along the chain; between hessian_ref's structured products and the
#   autograd Hessian that is at most about `1e-13` on these cases, so the
#   tolerance leaves a factor of about a thousand.
# * `(H + eps I)^{-1} v`: `100 P cond(H + eps I) eps_mach`, between `1e-10`
#   and `1e-2`. A backward-stable solve, such as LU with partial pivoting, is
#   accurate to about `cond eps_mach` times a modest factor that grows at
#   most with the size `P`; `100 P` covers that. In `eps-small`,
#   `cond = 2e8` and the tolerance is `2.3e-4`: fewer than four digits of
#   the inverse product can be asked of anyone.

# %% [markdown]
# ## 2. Another implementation, with a planted bug
#
# The implementation below shares no derivative code with hessian_ref. It
# is what a user of a Flax-like library might write:
#
# * each layer is a pair `(K, b)` with the **kernel** `K = W^T` of shape
#   `(in, out)` and the layer computes `Z @ K + b`;
# * the gradient comes from a hand-written backward pass over the batch;
# * `H v` comes from the **complex step**: for a function that is analytic
#   in its inputs, `g(theta + i h v) = g(theta) + i h H v + O(h^2)`, so
#   `Im g(theta + i h v) / h` is `H v` with no subtraction and hence no
#   cancellation; with `h = 1e-20` the `O(h^2)` term is far below rounding.
#   This is why the activations are written in forms that accept complex
#   input (a `tanh` for the sigmoid, a shifted logarithm for softplus), and
#   why the largest logit is taken from the real part only;
# * `H` is `P` such products (one per unit vector), and `(H + eps I)^{-1} v`
#   a dense `numpy.linalg.solve`;
# * its flat vectors list, layer by layer, the bias and then the kernel
#   row-major: what `jax.flatten_util.ravel_pytree` makes of Flax's
#   `{"bias", "kernel"}` dicts, since JAX sorts dict keys. In
#   `hessian_ref.layouts` this is `Layout("in_out", "first", "C")`,
#   `FLAX_RAVEL_PYTREE`. The vector `v` of a case is in hessian_ref's layout,
#   so it is converted in with `layouts.convert`.
#
# The bug is in the backward pass, marked `BUG`: the bias gradient is
# `delta.sum(axis=0)` without the factor `1 / B` the weights get. With
# `average_bias=True` it is fixed.

# %%
def _sigmoid(u):
    return 0.5 * (np.tanh(0.5 * u) + 1.0)


def _softplus(u):
    # log(1 + e^u) = r + log(e^-r + e^(u - r)) with r = max(Re u, 0): no overflow
    r = np.maximum(u.real, 0.0)
    return r + np.log(np.exp(-r) + np.exp(u - r))


# name: (sigma(u), sigma'(u) given u and s = sigma(u))
ACTIVATIONS = {
    "tanh": (np.tanh, lambda u, s: 1.0 - s**2),
    "sigmoid": (_sigmoid, lambda u, s: s * (1.0 - s)),
    "softplus": (_softplus, lambda u, s: _sigmoid(u)),
    "identity": (lambda u: u, lambda u, s: np.ones_like(u)),
}


def loss_and_grad(params, inputs, average_bias):
    """Loss and per-layer gradients [(dK, db)] of a Flax-style MLP."""
    X, t = inputs["X"], inputs["targets"]
    B = len(X)
    scale = 1.0 / B if str(inputs["reduction"]) == "mean" else 1.0

    # forward: hidden layers, keeping each input and sigma'
    Z, saved = X, []
    for (K, b), name in zip(params[:-1], inputs["activations"]):
        sigma, dsigma = ACTIVATIONS[str(name)]
        U = Z @ K + b
        S = sigma(U)
        saved.append((Z, dsigma(U, S)))
        Z = S
    saved.append((Z, None))

    # head: per-sample loss and its derivative with respect to the logits U
    K, b = params[-1]
    U = Z @ K + b
    if str(inputs["loss"]) == "cross_entropy":
        m = U.real.max(axis=1, keepdims=True)
        E = np.exp(U - m)
        total = E.sum(axis=1, keepdims=True)
        per_sample = np.log(total[:, 0]) + m[:, 0] - U[np.arange(B), t]
        delta = E / total
        delta[np.arange(B), t] -= 1.0
    else:
        R = U - t
        per_sample = 0.5 * (R**2).sum(axis=1)
        delta = R
    loss = scale * per_sample.sum()

    # backward, head first
    grads = []
    for l in reversed(range(len(params))):
        Z_in = saved[l][0]
        dK = scale * (Z_in.T @ delta)
        if average_bias:
            db = scale * delta.sum(axis=0)
        else:
            db = delta.sum(axis=0)  # BUG: the mean's 1 / B is missing
        grads.append((dK, db))
        if l > 0:
            delta = (delta @ params[l][0].T) * saved[l - 1][1]
    return loss, grads[::-1]


def flatten(pairs):
    """ravel_pytree of [{"bias": b, "kernel": K}]: per layer b, then K row-major."""
    return np.concatenate([np.concatenate([b, K.ravel()]) for K, b in pairs])


def unflatten(flat, like):
    out, i = [], 0
    for K, b in like:
        b_new = flat[i:i + b.size]
        K_new = flat[i + b.size:i + b.size + K.size].reshape(K.shape)
        out.append((K_new, b_new))
        i += b.size + K.size
    return out


def my_answers(inputs, average_bias=False):
    """Every quantity, in this implementation's own (Flax) layout.

    `inputs` maps the keys of a case file (an open np.load, or a dict)."""
    widths = tuple(int(h) for h in inputs["widths"])
    params = [(np.asarray(inputs[f"W_{l}"]).T, np.asarray(inputs[f"b_{l}"]))
              for l in range(1, len(widths))]
    theta = flatten(params)
    P = theta.size
    v = convert(inputs["v"], widths, HESSIAN_REF, FLAX_RAVEL_PYTREE)
    loss, grads = loss_and_grad(params, inputs, average_bias)

    def hvp(d):
        h = 1e-20
        perturbed = unflatten(theta + 1j * h * d, params)
        return flatten(loss_and_grad(perturbed, inputs, average_bias)[1]).imag / h

    H = np.column_stack([hvp(e) for e in np.eye(P)])
    answers = {"loss": loss, "gradient": flatten(grads), "hvp": hvp(v),
               "inverse_hvp": np.linalg.solve(H + float(inputs["eps"]) * np.eye(P),
                                              v)}
    if P <= 400:
        answers["hessian"] = H
    return answers


# %% [markdown]
# A case gives the network and everything to compute; the implementation
# reads the file with NumPy alone and writes an answer file of the same
# name, holding any of `loss`, `gradient`, `hvp`, `inverse_hvp` and
# `hessian`. This is the step that, for a real implementation, runs in its
# own language.

# %%
def write_answers(cases_dir, answers_dir, **options):
    os.makedirs(answers_dir, exist_ok=True)
    for name in sorted(os.listdir(cases_dir)):
        with np.load(os.path.join(cases_dir, name)) as inputs:
            answers = my_answers(inputs, **options)
        np.savez(os.path.join(answers_dir, name), **answers)


t0 = time.perf_counter()
write_answers(CASES_DIR, ANSWERS_DIR)
print(f"wrote {len(os.listdir(ANSWERS_DIR))} answer files in "
      f"{time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ## 3. The first check, and a layout mismatch
#
# On the command line:
#
# ```
# hessian-ref check CASES_DIR ANSWERS_DIR --json report.json
# ```
#
# In Python it is `check_directory(cases_dir, answers_dir)`, which returns a
# `Report`. A summary, per quantity, of the cases that fail:

# %%
def summary(report):
    """{quantity: [names of the cases where it fails]}."""
    failing = {q: [] for q in QUANTITIES}
    for case_report in report.cases:
        for q in case_report.failures():
            failing[q.quantity].append(case_report.case)
    return failing


def print_summary(report):
    for q, names in summary(report).items():
        print(f"  {q:<12} fails in {len(names):>2} of {len(report.cases)} cases")
    print(f"  cases passing: {sum(c.passed for c in report.cases)} of "
          f"{len(report.cases)}")


first = check_directory(CASES_DIR, ANSWERS_DIR)
print("answers checked as written (hessian_ref's layout assumed):")
print_summary(first)
print()
one = next(c for c in first.cases if c.case == "batch-1")
print(f"batch-1: {'ok' if one.passed else 'FAILS'}")
for q in one.quantities:
    print(f"  {q.message()}")

# %% [markdown]
# The loss passes everywhere and every parameter-indexed quantity fails
# everywhere, located at every block, even in the case with one sample. A
# right loss next to a gradient that is wrong in every block is the usual
# mark of vectors compared in the wrong order. The answers are in the Flax
# layout: per layer the bias first, then the kernel `K = W^T` row-major. For
# one layer of widths `(2, 3)` (`W` is `3 x 2`), `permutation` shows where
# each entry of a hessian_ref vector lands:

# %%
perm = permutation((2, 3), HESSIAN_REF, FLAX_RAVEL_PYTREE)
names = ["W00", "W01", "W10", "W11", "W20", "W21", "c0", "c1", "c2"]
print("hessian_ref:      ", " ".join(f"{n:>3}" for n in names))
print("in_out, first, C: ", " ".join(f"{names[i]:>3}" for i in perm))
print("perm =", perm.tolist())

# %% [markdown]
# The check converts the answers before comparing when it is told their
# layout: `--layout in_out,first,C` on the command line, the `layout`
# argument of `check_directory` (and of `check_answers`) in Python. The
# conversion is a permutation, so it changes no value.

# %%
FLAX = Layout("in_out", "first", "C")  # what --layout in_out,first,C parses to
assert FLAX == FLAX_RAVEL_PYTREE

second = check_directory(CASES_DIR, ANSWERS_DIR, layout=FLAX)
print("answers checked with layout=Layout('in_out', 'first', 'C'):")
print_summary(second)

# the loss does not depend on the layout; every vector did
assert not summary(first)["loss"]
assert all(len(summary(first)[q]) == len(cases)
           for q in ("gradient", "hvp", "inverse_hvp"))

# %% [markdown]
# With the layout right, 18 cases still fail. What remains is the planted
# bug, and it fails exactly where it should:
#
# * in every case whose loss is a **mean over more than one sample**, the
#   gradient, `H v`, `H` and the inverse product fail, and the loss passes
#   (the loss itself is averaged correctly; only its bias derivative is not);
# * `batch-1` (`B = 1`: sum and mean agree) and `sum-reduction` (the case
#   asks for the sum) pass every quantity. A test suite made only of such
#   cases would not see this bug.

# %%
def should_fail(case):
    """The quantities the planted bug spoils in `case`."""
    if case.reduction == "mean" and len(case.X) > 1:
        return {"gradient", "hvp", "inverse_hvp", "hessian"} & set(case.expected)
    return set()


by_name = {c.case: c for c in second.cases}  # check_directory sorts by file name
assert sorted(by_name) == sorted(case.name for case in cases)
for case in cases:
    failed = {q.quantity for q in by_name[case.name].failures()}
    assert failed == should_fail(case), (case.name, failed)
passing = [c.case for c in second.cases if c.passed]
print("passing with the bug:", passing)
assert passing == ["batch-1", "sum-reduction"]

# %% [markdown]
# ## 4. Where the error is
#
# `check` splits each failing quantity by parameter block (each layer's
# weights and bias; pairs of them for `H`) and names the blocks whose own
# error, relative to the norm of the whole expected quantity, exceeds the
# tolerance, largest first. For the Hessian it also names the fewest blocks
# whose rows and columns hold the whole error. The report of `iris-10`:

# %%
iris = next(c for c in second.cases if c.case == "iris-10")
for q in iris.quantities:
    print(q.message())

# %% [markdown]
# Read them in the order each is computed from the one before:
#
# * the **gradient** is wrong in the bias of every layer and nowhere else;
# * `H v` likewise: a derivative of the wrong gradient is wrong in the same
#   rows;
# * `H` is wrong in "the rows and columns of every bias"; the pairs named
#   first are (bias, weights) and (bias, bias) pairs;
# * the **inverse product** is wrong everywhere: a solve mixes every entry
#   of the right-hand side into every entry of the answer, so its location
#   says little. Read the location of the lowest quantity that fails.
#
# The same holds in all 18 failing cases: the gradient and `H v` are
# located at biases and at no weight matrix, and the Hessian's error is
# confined to the rows and columns of the biases. A block is named only when
# its own error exceeds the tolerance (relative to the whole vector), so a
# bias whose gradient is tiny can escape: in `depth-32-width-2` (32 sigmoid
# layers of width 2) and `depth-64-width-1` (64 softplus layers of width 1)
# the gradient fades towards the input, and only about the upper half of the
# biases is named.

# %%
bias_labels = {case.name: {label for label, _ in parameter_blocks(case.widths)
                           if label.endswith("bias")} for case in cases}
print(f"{'case':<24} {'biases named (gradient)':>24} {'(H v)':>6}  H confined to")
for case_report in second.cases:
    if case_report.passed:
        continue
    named = {}
    for q in case_report.failures():
        located = {block for block, _ in q.locations}
        if q.quantity in ("gradient", "hvp"):
            assert located and located <= bias_labels[case_report.case], located
            named[q.quantity] = len(located)
        elif q.quantity == "hessian":
            assert "bias" in q.cause and "weights" not in q.cause, q.cause
            named["hessian"] = q.cause.split("columns of ")[1]
    total = len(bias_labels[case_report.case])
    print(f"{case_report.case:<24} {named['gradient']:>17} of {total:>3} "
          f"{named['hvp']:>6}  {named.get('hessian', '(no H in the case)')}")

# %% [markdown]
# The location says "bias"; the size of the error says what is wrong with
# it. Dividing the answer by the expected value, block by block, gives a
# factor of exactly `B = 10` in every bias and 1 in every weight matrix: a
# sum where a mean was meant, in the bias only. That ratio is computed here
# from the answer file; the check itself reports a scale factor only when
# it is uniform over the whole vector (section 6 shows one).
#
# Tolerance of the ratio: a bias gradient computed as a sum is `B` times the
# mean to rounding, a few `eps_mach` relative, so the ratio is asserted to
# `1e-12`.

# %%
iris_case = load_case(os.path.join(CASES_DIR, "iris-10.npz"))
with np.load(os.path.join(ANSWERS_DIR, "iris-10.npz")) as data:
    answer = {key: data[key] for key in data.files}
g_answer = convert(answer["gradient"], iris_case.widths, FLAX, HESSIAN_REF)
g_expected = iris_case.expected["gradient"]
B = len(iris_case.X)
print(f"B = {B}")
print(f"{'block':<16} {'ratio answer / expected (least squares)':>40}")
for label, index in parameter_blocks(iris_case.widths):
    e, a = g_expected[index], g_answer[index]
    ratio = (a @ e) / (e @ e)
    fit = np.linalg.norm(a - ratio * e) / np.linalg.norm(a)
    print(f"{label:<16} {ratio:>24.12f}   (misfit {fit:.1e})")
    assert abs(ratio - (B if label.endswith("bias") else 1)) <= 1e-12 * B
    assert fit <= 1e-12

# %% [markdown]
# One more symptom needs no reference at all: the Hessian of a twice
# continuously differentiable loss is symmetric (claim C19), and a Hessian
# whose bias rows are scaled and whose columns are not cannot be.

# %%
H_answer = convert_matrix(answer["hessian"], iris_case.widths, FLAX, HESSIAN_REF)
H_expected = iris_case.expected["hessian"]
asym = np.linalg.norm(H_answer - H_answer.T) / np.linalg.norm(H_answer)
print(f"||H - H^T|| / ||H||: buggy answer {asym:.2f}, expected "
      f"{np.linalg.norm(H_expected - H_expected.T) / np.linalg.norm(H_expected):.1e}")
assert asym > 0.1

# %% [markdown]
# The figure shows the located error of `iris-10`. Left: each block's error
# in the gradient and in `H v`, relative to the norm of the whole expected
# vector (an exact zero is drawn at `1e-18`), against the tolerance.
# Right: the error of every entry of `H`, with the blocks marked; whole
# rows of bias are wrong, their columns are not.

# %%
blocks = parameter_blocks(iris_case.widths)
short = [f"{'W' if label.endswith('weights') else 'b'}{label.split()[1]}"
         for label, _ in blocks]
hv_answer = convert(answer["hvp"], iris_case.widths, FLAX, HESSIAN_REF)
FLOOR = 1e-18

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.4),
                               gridspec_kw={"width_ratios": [1.15, 1]})
x = np.arange(len(blocks))
for shift, (name, a, e) in zip((-0.2, 0.2), (
        ("gradient", g_answer, g_expected),
        ("H v", hv_answer, iris_case.expected["hvp"]))):
    errors = [max(np.linalg.norm(a[i] - e[i]) / np.linalg.norm(e), FLOOR)
              for _, i in blocks]
    ax0.bar(x + shift, errors, width=0.4, label=name)
ax0.axhline(iris_case.tolerance["gradient"], color="k", ls="--", lw=1,
            label="tolerance 1e-10")
ax0.set_yscale("log")
ax0.set_ylim(FLOOR / 3, 1e5)
ax0.set_xticks(x, short)
ax0.set_xlabel("parameter block (W_l weights, b_l bias of layer l)")
ax0.set_ylabel("block error / ||expected|| (relative)")
ax0.set_title("iris-10: error of each block, buggy implementation")
ax0.legend(loc="upper center", ncol=3, fontsize=9)

D = np.abs(H_answer - H_expected)
image = ax1.imshow(np.log10(np.maximum(D, FLOOR)), cmap="magma", vmin=-18,
                   vmax=0, interpolation="nearest")
edges = [i.stop for _, i in blocks][:-1]
for edge in edges:
    ax1.axhline(edge - 0.5, color="w", lw=0.5)
    ax1.axvline(edge - 0.5, color="w", lw=0.5)
centres = [(i.start + i.stop - 1) / 2 for _, i in blocks]
ax1.set_xticks(centres, short, fontsize=8)
ax1.set_yticks(centres, short, fontsize=8)
ax1.set_xlabel("column block of H")
ax1.set_ylabel("row block of H")
ax1.set_title("log10 |H_answer - H_expected| per entry")
fig.colorbar(image, ax=ax1, label="log10 of the absolute error (exact zero at -18)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. The fix
#
# With the factor `1 / B` in the bias gradient (`average_bias=True`), the
# implementation is run again, this time in Python through
# `validate(implementation, cases)`, which calls `implementation(case)` on
# each `Case` and checks the dict it returns. `validate` takes no layout, so
# the adapter converts the answers to hessian_ref's layout itself with
# `layouts.convert` (vectors) and `layouts.convert_matrix` (the Hessian):
# the Python equivalent of `--layout`.

# %%
def case_inputs(case):
    """A Case as the keys of its file: per-layer W_l, b_l from theta."""
    inputs = {"widths": case.widths, "activations": case.activations,
              "loss": case.loss, "reduction": case.reduction, "X": case.X,
              "targets": case.targets, "v": case.v, "eps": case.eps}
    for l, (W, b) in enumerate(case.net.unpack(case.theta), start=1):
        inputs[f"W_{l}"], inputs[f"b_{l}"] = W, b
    return inputs


def fixed_implementation(case):
    answers = my_answers(case_inputs(case), average_bias=True)
    for q in ("gradient", "hvp", "inverse_hvp"):
        answers[q] = convert(answers[q], case.widths, FLAX, HESSIAN_REF)
    if "hessian" in answers:
        answers["hessian"] = convert_matrix(answers["hessian"], case.widths, FLAX,
                                            HESSIAN_REF)
    return answers


t0 = time.perf_counter()
fixed = validate(fixed_implementation, cases)
print(f"validate: {time.perf_counter() - t0:.1f} s")
print_summary(fixed)
print()
print(f"{'quantity':<12} {'worst error / tolerance':>24}  {'case':<18} "
      f"{'its error':>9} {'tolerance':>9}")
for quantity in QUANTITIES:
    reports = [(c.case, q) for c in fixed.cases for q in c.quantities
               if q.quantity == quantity]
    name, worst = max(reports, key=lambda item: item[1].error / item[1].tolerance)
    print(f"{quantity:<12} {worst.error / worst.tolerance:>24.1e}  {name:<18} "
          f"{worst.error:>9.1e} {worst.tolerance:>9.1e}")
eps_mach = np.finfo(float).eps
inverse = {c.case: q.error for c in fixed.cases for q in c.quantities
           if q.quantity == "inverse_hvp"}
in_units = max(inverse[case.name] / (case.condition * eps_mach) for case in cases)
print(f"inverse product, worst error / (cond(H + eps I) eps_mach): {in_units:.2f}")
assert fixed.passed
assert len(fixed.checked()) == sum(len(c.expected) for c in cases)

# %% [markdown]
# Every quantity of every case passes. The worst ratio of error to tolerance
# is about `1e-4`: the complex-step products agree with hessian_ref's
# structured ones to a few `eps_mach`, and the dense LU agrees with its
# structured solve to less than one `cond(H + eps I) eps_mach`, far inside
# the `100 P` of the tolerance.
#
# The same through files and the command line: write the fixed answers,
# still in the Flax layout, and run
# `hessian-ref check CASES ANSWERS --layout in_out,first,C --json report.json`
# (here `cli.main` with those arguments; its printed report, a line per case
# and quantity, is cut to its last lines). The exit code is 0 when
# everything passes and 1 otherwise.

# %%
write_answers(CASES_DIR, ANSWERS_DIR, average_bias=True)
report_path = os.path.join(TMP.name, "report.json")
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    code = cli.main(["check", CASES_DIR, ANSWERS_DIR, "--layout", "in_out,first,C",
                     "--json", report_path])
lines = printed.getvalue().splitlines()
print("\n".join(lines[:6] + ["..."] + lines[-2:]))
print(f"exit code {code}")
with open(report_path) as handle:
    stored = json.load(handle)
print(f"report.json: passed = {stored['passed']}, {len(stored['cases'])} cases, "
      f"keys of a quantity: {sorted(stored['cases'][0]['quantities'][0])}")
assert code == 0 and stored["passed"]

# %% [markdown]
# ## 6. Other diagnoses: the faults of `examples/faulty.py`
#
# `hessian_ref.examples.faulty.faulty_answers(case, fault)` starts from a
# case's own expected values and plants one of four faults that real
# implementations make. On `tanh-cross-entropy` (5 samples, two hidden
# layers), each fault fails exactly the quantities `FAULTS` lists for it,
# and the message names the cause:
#
# * `sum-not-mean`: a uniform factor, reported as "the answer is 5 times the
#   expected value", and the inverse product recognised as `(B H + eps I)^{-1}
#   v`;
# * `eps-sign`: only the inverse product fails, recognised as `(H - eps
#   I)^{-1} v`;
# * `bias-curvature-dropped`: `H` wrong in "the rows and columns of every
#   bias";
# * `cross-block-transposed`: `H` wrong in the rows and columns of layer 2's
#   weights, `H v` located at layer 2's weights first.

# %%
demo = next(c for c in cases if c.name == "tanh-cross-entropy")
for fault, spoiled in FAULTS.items():
    report = check_answers(demo, faulty_answers(demo, fault))
    failed = {q.quantity for q in report.failures()}
    assert failed == set(spoiled), (fault, failed)
    print(f"{fault}: fails {', '.join(q for q in QUANTITIES if q in failed)}")
    for q in report.failures():
        # the message up to its list of blocks, then the first block only
        text = q.message().split("; located at ")[0]
        if q.locations:
            block, error = q.locations[0]
            text += f"; largest block error: {block} ({error:.1e})"
        print(f"  {text}")
    print()

diagnosis = {q.quantity: q for q in check_answers(
    demo, faulty_answers(demo, "sum-not-mean")).failures()}
assert abs(diagnosis["gradient"].scale - len(demo.X)) <= 1e-10
assert "(B H + eps I)" in diagnosis["inverse_hvp"].cause
eps_sign = check_answers(demo, faulty_answers(demo, "eps-sign")).failures()[0]
assert "wrong sign" in eps_sign.cause

# %% [markdown]
# ## Summary
#
# * A case file holds a network, its inputs, `v`, `eps`, the expected loss,
#   gradient, `H v`, `(H + eps I)^{-1} v` and (for `P <= 400`) `H`, each
#   with its tolerance: `1e-10` for the products, `100 P cond(H + eps I)
#   eps_mach` for the inverse.
# * Answers in another parameter layout fail every parameter-indexed
#   quantity while the loss passes; `--layout WEIGHTS,BIAS,ORDER` (or
#   `layouts.convert`) fixes that without touching a value.
# * The planted bug (bias gradient summed, not averaged) failed the
#   gradient, `H v`, `H` and the inverse product in the 18 cases with a mean
#   over several samples and nothing in `batch-1` and `sum-reduction`; the
#   check located it at biases and at no weight matrix (every bias whose
#   gradient is not vanishingly small), and the block ratio gave the
#   factor `B`.
# * Fixed, the implementation passes all 20 cases, with the worst error
#   about `1e-4` of its tolerance.

# %%
TMP.cleanup()
assert not os.path.exists(TMP.name)
print(f"temporary directory removed; notebook ran in "
      f"{time.perf_counter() - START:.0f} s")
