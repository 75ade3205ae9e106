"""Multinomial logistic regression on scikit-learn's digits, trained with
plain NumPy gradient descent on fusedxent's fused loss + gradient, against
scikit-learn's LogisticRegression on the same split."""
import sys
from typing import Optional

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fusedxent as fx


def main(steps: int = 600, lr: float = 0.5, l2: float = 1e-3, seed: int = 0,
         save: Optional[str] = None) -> tuple[float, float]:
    """Train and score; with `save`, write the test logits and labels to
    save + "_logits.npy" / "_labels.npy" (input for `python -m fusedxent evaluate`)."""
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    C = 10
    W = np.zeros((Xtr.shape[1], C))
    b = np.zeros(C)
    grad = np.empty((Xtr.shape[0], C))
    loss = float("nan")
    for _ in range(steps):
        logits = Xtr @ W + b
        loss, g = fx.softmax_cross_entropy(logits, ytr, return_grad=True, grad_out=grad)
        W -= lr * (Xtr.T @ g + l2 * W)
        b -= lr * g.sum(axis=0)
    ours = fx.evaluate(Xte @ W + b, yte)
    if save:
        np.save(save + "_logits.npy", (Xte @ W + b).astype(np.float32))
        np.save(save + "_labels.npy", yte)
    ref = LogisticRegression(max_iter=2000).fit(Xtr, ytr)
    sk_acc = float(ref.score(Xte, yte))
    print(f"fusedxent + NumPy GD: test accuracy {ours.accuracy:.4f}, test loss {ours.loss:.4f} (train loss {loss:.4f})")
    print(f"scikit-learn LogisticRegression: test accuracy {sk_acc:.4f}")
    return ours.accuracy, sk_acc


if __name__ == "__main__":
    # python examples/digits_softmax_regression.py [PREFIX]: also save the test predictions
    main(save=sys.argv[1] if len(sys.argv) > 1 else None)
