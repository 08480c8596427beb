"""How well the classifier tells lesion slices from the others on held-out volumes: ROC AUC, loss, accuracy."""

from __future__ import annotations

import numpy as np

__all__ = ["roc_auc", "evaluate", "DECISION_THRESHOLD"]

# p(lesion) at or above which a slice counts as positive for the accuracies.
DECISION_THRESHOLD = 0.5
# Added to probabilities inside the log of the validation loss (a sure wrong answer is large, not infinite).
LOG_EPS = 1e-7


def roc_auc(labels, scores) -> float | None:
    """Area under the ROC curve (rank statistic, ties averaged); None when one class is absent."""
    from scipy.stats import rankdata

    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(np.asarray(scores, dtype=float))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(model, x, y, vol_index, batch_size: int, device) -> dict:
    """Validation figures of ``model`` on slices ``x`` with labels ``y`` from the volumes ``vol_index``.

    Returns ``val_loss`` (cross-entropy), ``val_auc`` (None with one class), ``val_accuracy`` over slices and
    ``val_accuracy_per_volume`` (the mean of each volume's accuracy).
    """
    import torch

    model.eval()
    probs = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            xb = x[s : s + batch_size].to(device)
            if xb.shape[1] == 1:
                xb = xb.expand(-1, 3, -1, -1)
            probs.append(torch.softmax(model(xb), 1)[:, 1].cpu())
    p = torch.cat(probs).numpy()
    yy = y.numpy()
    loss = float(-np.mean(yy * np.log(p + LOG_EPS) + (1 - yy) * np.log(1 - p + LOG_EPS)))
    hit = (p >= DECISION_THRESHOLD) == yy
    acc = float(np.mean(hit))
    per_volume = [float(np.mean(hit[vol_index == v])) for v in np.unique(vol_index)]
    return {"val_loss": loss, "val_auc": roc_auc(yy, p), "val_accuracy": acc,
            "val_accuracy_per_volume": float(np.mean(per_volume))}
