"""
Softmax regression on the digits, in NumPy
==========================================

Multinomial logistic regression on scikit-learn's digits, trained with
plain NumPy gradient descent on fusedxent's fused loss + gradient (one
kernel pass gives both, the gradient written into a reused buffer), against
scikit-learn's LogisticRegression on the same split; then the training
curve and the reliability diagram of the test predictions from
``fx.evaluate(..., calibration_bins=10)``.
"""
import sys
from typing import Any, NamedTuple, Optional

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fusedxent as fx


class Fit(NamedTuple):
    evaluation: "fx.Evaluation[float, int, Any, Any]"   # of the test split, 10 reliability bins
    sklearn_accuracy: float
    history: list[float]                                # training loss of every step
    test_logits: Any
    test_labels: Any


def train(steps: int = 600, lr: float = 0.5, l2: float = 1e-3, seed: int = 0) -> Fit:
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    C = 10
    W = np.zeros((Xtr.shape[1], C))
    b = np.zeros(C)
    grad = np.empty((Xtr.shape[0], C))
    history: list[float] = []
    for _ in range(steps):
        logits = Xtr @ W + b
        loss, g = fx.softmax_cross_entropy(logits, ytr, return_grad=True, grad_out=grad)
        history.append(loss)
        W -= lr * (Xtr.T @ g + l2 * W)
        b -= lr * g.sum(axis=0)
    test_logits = Xte @ W + b
    ev = fx.evaluate(test_logits, yte, calibration_bins=10)
    ref = LogisticRegression(max_iter=2000).fit(Xtr, ytr)
    return Fit(ev, float(ref.score(Xte, yte)), history, test_logits, yte)


def report(fit: Fit, save: Optional[str] = None) -> tuple[float, float]:
    """Print the test scores; with `save`, write the test logits and labels to
    save + "_logits.npy" / "_labels.npy" (input for `python -m fusedxent evaluate`)."""
    if save:
        np.save(save + "_logits.npy", fit.test_logits.astype(np.float32))
        np.save(save + "_labels.npy", fit.test_labels)
    ev = fit.evaluation
    print(f"fusedxent + NumPy GD: test accuracy {ev.accuracy:.4f}, test loss {ev.loss:.4f} "
          f"(train loss {fit.history[-1]:.4f})")
    print(f"scikit-learn LogisticRegression: test accuracy {fit.sklearn_accuracy:.4f}")
    return ev.accuracy, fit.sklearn_accuracy


def main(save: Optional[str] = None, **options: Any) -> tuple[float, float]:
    """Train, print and return (our test accuracy, scikit-learn's)."""
    return report(train(**options), save)


def plot(fit: Fit) -> None:
    """The training curve and the test predictions' reliability diagram."""
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.semilogy(fit.history)
    left.set_xlabel("gradient step")
    left.set_ylabel("training loss (nats)")
    left.set_title("training curve")
    left.grid(True, which="both", alpha=0.3)
    cal = fit.evaluation.calibration
    assert cal is not None
    nz = cal.weight > 0
    mid = (cal.edges[:-1] + cal.edges[1:]) / 2
    right.bar(mid[nz], cal.accuracy[nz], width=0.09, alpha=0.75, label="accuracy per bin")
    right.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    right.set_xlabel("confidence")
    right.set_ylabel("accuracy")
    right.set_title(f"test reliability: ECE {cal.ece:.4f}")
    right.legend(loc="upper left")
    fig.tight_layout()


if __name__ == "__main__":
    # python examples/digits_softmax_regression.py [PREFIX]: also save the test predictions
    fit = train()
    report(fit, save=sys.argv[1] if len(sys.argv) > 1 else None)
    plot(fit)
