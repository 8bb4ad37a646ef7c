"""The Elman RNN unfolded over k steps in SymPy, and its gradients derived in two ways.

The network (column vectors, see :mod:`rnn_tutor`), for one sequence ``x_1 … x_k``:

    a_t = w_x x_t + w_h h_{t-1} + b_h,   h_t = f(a_t),   o_t = w_y h_t + b_y,   y_t = g(o_t)
    L   = ½ Σ_{t ∈ S} ‖y_t - p_t‖²      (S = all steps, or only t = k: the tutorial's e = y_k - p_k)

Every ``a_t, h_t, o_t, y_t`` is a matrix of *intermediate symbols* (``a_2``, ``h_2_0``, ...) with a
one-step definition in :attr:`UnrolledRNN.definitions`.  Two derivations of ``dL/dθ`` follow:

(a) :func:`grads_direct` substitutes every definition (the *unrolled* expression, a function of
    the parameters and inputs only) and lets ``sympy.diff`` apply the chain rule;
(b) :func:`grads_bptt` writes backpropagation through time as a sum over time of products of
    Jacobians, each factor a *partial* derivative of one step (``∂⁺``: earlier states held fixed):

    dL/dθ = ∂⁺L/∂θ + Σ_{t=1}^{k} Σ_{s=1}^{t} (∂⁺L/∂h_t) J_t J_{t-1} ⋯ J_{s+1} ∂⁺h_s/∂θ,
    J_j = ∂h_j/∂h_{j-1} = diag(f'(a_j)) w_h .

Result (b) stays compact (it is written in the intermediate symbols); :func:`lambdify_grads`
evaluates the definitions once, in order, and then the gradients, so k = 10 is fast.
:func:`equal_symbolically` proves (a) = (b) for small k; for larger k, compare numerically.

Modules: :mod:`~rnn_tutor.symbolic.unrolled` builds the network and both derivations;
:mod:`~rnn_tutor.symbolic.verify` checks them against each other and compiles them to NumPy.
"""

from rnn_tutor.symbolic.unrolled import (PARAMS, UnrolledRNN, grads_bptt, grads_direct, immediate_partial, jacobian,
                                         total_derivative, unroll, unrolled)
from rnn_tutor.symbolic.verify import derive_and_verify, equal_symbolically, lambdify_grads

__all__ = ["UnrolledRNN", "unroll", "unrolled", "immediate_partial", "jacobian", "total_derivative",
           "grads_direct", "grads_bptt", "equal_symbolically", "lambdify_grads", "derive_and_verify", "PARAMS"]
