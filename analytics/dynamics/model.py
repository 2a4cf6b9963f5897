"""The hybrid neural ODE, batched over ensemble members, integrated with torchdiffeq.

For each ensemble member e and score s::

    dx/dt = (x_eq - x) / tau  +  B u(t)  +  g([z(x), u(t)])  +  f(t)

- ``(x_eq - x) / tau``: relaxation toward an equilibrium ``x_eq`` with time constant ``tau``
  (in periods): the interpretable part ("returns to X within about N days").
- ``B u(t)``: linear effects of the drivers (centred log volume per source, event pulses).
- ``g``: a small tanh network of the standardised state and the drivers, started near zero
  and penalised during the fit so it only explains what relaxation cannot.
- ``f(t)``: scenario forcing (a shock of size a at a period adds a over that period);
  zero when fitting.

Time is measured in periods on an integer grid. Drivers and forcing are piecewise constant
over a period; the fixed-step solvers get ``perturb=True`` so every evaluation inside the
step from k to k+1 reads row k, even at the step's end point. All members are one set of
batched tensors, so an ensemble of 8 costs about as much as one model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchdiffeq import odeint

PARAMETER_NAMES = ("x_eq", "log_tau", "effects", "w1", "b1", "w2")
TAU_BOUNDS = (1.0, 1.0e4)  # a time constant under one period is not resolvable


class HybridODE(torch.nn.Module):
    """E independent hybrid models evaluated together on a batch of B trajectories."""

    def __init__(self, n_members: int, n_scores: int, n_drivers: int, hidden: int,
                 center: np.ndarray, scale: np.ndarray, tau_init: float,
                 generator: torch.Generator | None = None):
        super().__init__()
        e, s, d, h = n_members, n_scores, n_drivers, hidden
        center_t = torch.as_tensor(center, dtype=torch.float32)
        self.register_buffer("center", center_t)
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.x_eq = torch.nn.Parameter(center_t.expand(e, s).clone())
        self.log_tau = torch.nn.Parameter(torch.full((e, s), math.log(tau_init)))
        self.effects = torch.nn.Parameter(torch.zeros(e, s, d))
        self.w1 = torch.nn.Parameter(
            torch.randn(e, s + d, h, generator=generator) / math.sqrt(s + d))
        self.b1 = torch.nn.Parameter(0.1 * torch.randn(e, h, generator=generator))
        self.w2 = torch.nn.Parameter(0.01 * torch.randn(e, h, s, generator=generator))

    def tau(self) -> torch.Tensor:
        low, high = TAU_BOUNDS
        return self.log_tau.clamp(math.log(low), math.log(high)).exp()

    def network(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """g for states x (E, B, S) and drivers u (B, D) -> (E, B, S)."""
        z = (x - self.center) / self.scale
        inputs = torch.cat([z, u.expand(x.shape[0], *u.shape)], dim=-1)
        hidden = torch.tanh(torch.baddbmm(self.b1.unsqueeze(1), inputs, self.w1))
        return torch.bmm(hidden, self.w2)

    def prepare(self, drivers: torch.Tensor, forcing: torch.Tensor | None = None) -> None:
        """Precompute every driver-dependent term once per integration (drivers are
        piecewise constant), so one evaluation of the derivative is a handful of ops."""
        n_scores = self.x_eq.shape[1]
        constant = torch.einsum("bkd,esd->ebks", drivers, self.effects)
        if forcing is not None:
            constant = constant + forcing.unsqueeze(0)
        self._constant = constant  # (E, B, steps, S)
        self._hidden_bias = self.b1[:, None, None, :] + torch.einsum(
            "bkd,edh->ebkh", drivers, self.w1[:, n_scores:])  # (E, B, steps, H)
        self._w_state = self.w1[:, :n_scores]
        self._x_eq, self._rate = self.x_eq.unsqueeze(1), 1.0 / self.tau().unsqueeze(1)
        self._steps = drivers.shape[1]

    def release(self) -> None:
        for name in ("_constant", "_hidden_bias", "_w_state", "_x_eq", "_rate"):
            self.__dict__.pop(name, None)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        row = min(int(t), self._steps - 1)  # t >= 0; perturb keeps it inside the step
        z = (x - self.center) / self.scale
        hidden = torch.tanh(torch.baddbmm(self._hidden_bias[:, :, row], z, self._w_state))
        g = torch.bmm(hidden, self.w2)
        return (self._x_eq - x) * self._rate + self._constant[:, :, row] + g

    # --- persistence ----------------------------------------------------------------
    def numpy_parameters(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name).detach().cpu().numpy().copy()
                for name in PARAMETER_NAMES}

    @classmethod
    def from_numpy(cls, parameters: dict[str, np.ndarray], center: np.ndarray,
                   scale: np.ndarray) -> HybridODE:
        e, s, d = parameters["effects"].shape
        model = cls(e, s, d, parameters["b1"].shape[1], center, scale, 1.0)
        with torch.no_grad():
            for name in PARAMETER_NAMES:
                getattr(model, name).copy_(torch.as_tensor(parameters[name]))
        return model


def integrate(model: HybridODE, x0: torch.Tensor, drivers: torch.Tensor,
              forcing: torch.Tensor | None = None, method: str = "euler") -> torch.Tensor:
    """Integrate ``drivers.shape[1]`` periods from x0 (E, B, S) with drivers (B, steps, D)
    (row k acts on [k, k+1)); returns (E, B, steps+1, S)."""
    steps = drivers.shape[1]
    model.prepare(drivers, forcing)
    grid = torch.arange(steps + 1, dtype=torch.float32)
    try:
        path = odeint(model, x0, grid, method=method,
                      options={"step_size": 1.0, "perturb": True})
    finally:
        model.release()
    return path.permute(1, 2, 0, 3)
