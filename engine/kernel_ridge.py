"""Kernel ridge regression with an RBF kernel: a closed-form, non-neural baseline.

Fitting solves (K + alpha I) A = Y once, where K[i, j] = exp(-gamma |x_i - x_j|^2). A
prediction is a weighted sum of kernels to the training points: f(x) = k(x, X) A. There is no
training loop and no learning rate, which makes it a good yardstick for the networks: on a few
thousand MNIST digits it already reaches well above logistic regression.

Classification (integer labels) regresses one-hot targets and predicts the class with the
highest score. The price is memory: K holds n^2 numbers, so n is capped.
"""

from __future__ import annotations

import numpy as np

from .fields import Field

#: n^2 float64 values: 20,000 samples already need 3.2 GB for the kernel matrix
MAX_SAMPLES = 20_000

#: predictions are computed this many kernel values at a time, to bound memory on large test sets
_BLOCK_VALUES = 4_000_000

#: the knobs, checked as every setting is (a FieldError is a ValueError)
ALPHA = Field("alpha", float, "ridge penalty added to the kernel's diagonal (larger: smoother, more stable)",
              default=1e-3, low=0.0)
GAMMA = Field("gamma", float, "RBF kernel width; none picks 1 / (features x variance) from the data",
              default=None, low=0.0, low_open=True, nullable=True)


def squared_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """|a_i - b_j|^2 for every pair of rows, as |a|^2 + |b|^2 - 2 a.b (one matrix product, no loops).

    Rounding can make the expansion slightly negative for near-identical rows; it is clipped at 0.
    """
    sq_a = np.einsum("ij,ij->i", A, A)[:, None]
    sq_b = np.einsum("ij,ij->i", B, B)[None, :]
    return np.maximum(sq_a + sq_b - 2.0 * (A @ B.T), 0.0)


def rbf_kernel(A: np.ndarray, B: np.ndarray, gamma: float) -> np.ndarray:
    """exp(-gamma |a_i - b_j|^2) for every pair of rows."""
    return np.exp(-gamma * squared_distances(A, B))


class NotFittedError(RuntimeError):
    """The model was used before `fit`."""


class KernelRidge:
    """Kernel ridge regression/classification with an RBF kernel, fitted in closed form.

    alpha: ridge penalty added to the kernel's diagonal (larger = smoother, more stable).
    gamma: kernel width; None picks 1 / (n_features * X.var()) as scikit-learn's "scale" does,
           so the kernel adapts to the data's scale.
    """

    def __init__(self, alpha: float = 1e-3, gamma: float | None = None, max_samples: int = MAX_SAMPLES) -> None:
        self.alpha = ALPHA.check(alpha)
        self.gamma = GAMMA.check(gamma)
        self.max_samples = int(max_samples)
        self.X_: np.ndarray | None = None
        self.classes_: np.ndarray | None = None

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _features(X, what: str) -> np.ndarray:
        """Samples as a float64 (n, features) matrix; images (n, 28, 28) are flattened."""
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise ValueError(f"{what} must be numbers, got dtype {X.dtype}")
        if X.ndim == 1:
            raise ValueError(f"{what} must be 2-D (samples x features), got a 1-D array of shape {X.shape}; "
                             f"for a single feature use X.reshape(-1, 1)")
        if X.ndim == 0 or X.shape[0] == 0:
            raise ValueError(f"{what} has no samples (shape {X.shape})")
        X = X.reshape(X.shape[0], -1).astype(np.float64)
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{what} contains NaN or infinite values")
        return X

    @staticmethod
    def _targets(y, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Float targets for the solve and the class labels: one-hot columns for integer labels,
        the values themselves (and no classes) for float targets."""
        y = np.asarray(y)
        if y.shape[:1] != (n,):
            raise ValueError(f"X has {n} samples but y has shape {y.shape}; they must match")
        if y.dtype.kind in "biu":
            if y.ndim != 1:
                raise ValueError(f"class labels must be a 1-D array, got shape {y.shape}")
            classes, codes = np.unique(y, return_inverse=True)
            if len(classes) < 2:
                raise ValueError(f"classification needs at least 2 classes, y only has {classes.tolist()}")
            return np.eye(len(classes))[codes.reshape(-1)], classes
        if y.dtype.kind != "f":
            raise ValueError(f"y must be integer class labels or float targets, got dtype {y.dtype}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinite values")
        return y.astype(np.float64), None

    def _check_fitted(self) -> None:
        if self.X_ is None:
            raise NotFittedError("this KernelRidge is not fitted yet: call fit(X, y) first")

    @property
    def is_classifier(self) -> bool:
        return self.classes_ is not None

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y) -> "KernelRidge":
        """Solve (K + alpha I) A = Y for the dual coefficients A."""
        X = self._features(X, "X")
        n = X.shape[0]
        if n > self.max_samples:
            gigabytes = n * n * 8 / 1e9
            raise ValueError(f"KernelRidge keeps an n x n kernel matrix: {n:,} samples would need {gigabytes:.1f} GB "
                             f"({n:,}^2 float64 values). Use at most {self.max_samples:,} samples, "
                             f"e.g. a random subset")
        Y, classes = self._targets(y, n)
        variance = X.var()
        gamma = float(self.gamma) if self.gamma is not None else (1.0 / (X.shape[1] * variance) if variance > 0 else 1.0)
        K = rbf_kernel(X, X, gamma)
        K[np.diag_indices_from(K)] += self.alpha
        self.dual_coef_ = self._solve(K, Y)
        self.X_, self.gamma_, self.classes_ = X, gamma, classes
        return self

    @staticmethod
    def _solve(K: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Cholesky when K + alpha I is positive definite (it is, unless alpha is ~0); LU otherwise."""
        try:
            L = np.linalg.cholesky(K)
            return np.linalg.solve(L.T, np.linalg.solve(L, Y))
        except np.linalg.LinAlgError:
            pass
        try:
            return np.linalg.solve(K, Y)
        except np.linalg.LinAlgError:
            raise ValueError("the kernel matrix is singular (duplicate samples with alpha=0?); "
                             "use a positive alpha") from None

    # ------------------------------------------------------------------ predicting
    def decision_function(self, X) -> np.ndarray:
        """Raw outputs k(x, X) A: one score per class for classification, the values for regression."""
        self._check_fitted()
        X = self._features(X, "X")
        if X.shape[1] != self.X_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features per sample, but the model was fitted on {self.X_.shape[1]}")
        rows = max(1, _BLOCK_VALUES // self.X_.shape[0])
        return np.concatenate([rbf_kernel(X[i:i + rows], self.X_, self.gamma_) @ self.dual_coef_
                               for i in range(0, X.shape[0], rows)])

    def predict(self, X) -> np.ndarray:
        """Class labels (for integer y) or predicted values (for float y)."""
        scores = self.decision_function(X)
        if self.is_classifier:
            return self.classes_[np.argmax(scores, axis=1)]
        return scores

    def score(self, X, y) -> float:
        """Accuracy for classification, R^2 (1 = perfect, 0 = predicting the mean) for regression."""
        prediction = self.predict(X)
        y = np.asarray(y)
        if self.is_classifier:
            return float(np.mean(prediction == y))
        residual = np.sum((y - prediction) ** 2)
        total = np.sum((y - y.mean(axis=0)) ** 2)
        return float(1.0 - residual / total) if total > 0 else float(residual == 0)
