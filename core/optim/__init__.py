"""Optimizers as composable gradient transformations (Optax's design and names).

An optimizer is a `GradientTransformation`: ``init(params) -> state`` and
``update(grads, state, params) -> (updates, state)``; `apply_updates` adds the updates to
the parameters. Named optimizers (`adam`, `sgd`, ...) are `chain`s of small ``scale_by_*``
transformations; schedules, clipping, masking, gradient accumulation and losses complete
the toolkit. States are pytrees of arrays: they work under `derivax.jit` and can be saved
with `derivax.serialization`.
"""

from ._alias import adabelief as adabelief
from ._alias import adadelta as adadelta
from ._alias import adafactor as adafactor
from ._alias import adagrad as adagrad
from ._alias import adam as adam
from ._alias import adamax as adamax
from ._alias import adamw as adamw
from ._alias import amsgrad as amsgrad
from ._alias import fromage as fromage
from ._alias import lamb as lamb
from ._alias import lars as lars
from ._alias import lion as lion
from ._alias import nadam as nadam
from ._alias import noisy_sgd as noisy_sgd
from ._alias import novograd as novograd
from ._alias import radam as radam
from ._alias import rmsprop as rmsprop
from ._alias import sgd as sgd
from ._alias import sign_sgd as sign_sgd
from ._alias import sm3 as sm3
from ._alias import yogi as yogi
from ._base import EmptyState as EmptyState
from ._base import GradientTransformation as GradientTransformation
from ._base import GradientTransformationExtraArgs as GradientTransformationExtraArgs
from ._base import Schedule as Schedule
from ._base import apply_updates as apply_updates
from ._base import chain as chain
from ._base import identity as identity
from ._base import init_empty_state as init_empty_state
from ._base import named_chain as named_chain
from ._base import set_to_zero as set_to_zero
from ._base import stateless as stateless
from ._base import with_extra_args_support as with_extra_args_support
from ._clipping import ZeroNansState as ZeroNansState
from ._clipping import clip as clip
from ._clipping import clip_by_block_rms as clip_by_block_rms
from ._clipping import clip_by_global_norm as clip_by_global_norm
from ._clipping import zero_nans as zero_nans
from ._factorized import FactoredState as FactoredState
from ._factorized import scale_by_factored_rms as scale_by_factored_rms
from ._losses import cosine_distance as cosine_distance
from ._losses import cosine_similarity as cosine_similarity
from ._losses import hinge_loss as hinge_loss
from ._losses import huber_loss as huber_loss
from ._losses import kl_divergence as kl_divergence
from ._losses import l2_loss as l2_loss
from ._losses import log_cosh as log_cosh
from ._losses import sigmoid_binary_cross_entropy as sigmoid_binary_cross_entropy
from ._losses import smooth_labels as smooth_labels
from ._losses import softmax_cross_entropy as softmax_cross_entropy
from ._losses import (
    softmax_cross_entropy_with_integer_labels as softmax_cross_entropy_with_integer_labels,
)
from ._losses import squared_error as squared_error
from ._numerics import global_norm as global_norm
from ._numerics import safe_norm as safe_norm
from ._numerics import safe_root_mean_squares as safe_root_mean_squares
from ._scaling import AddDecayedWeightsState as AddDecayedWeightsState
from ._scaling import AddNoiseState as AddNoiseState
from ._scaling import EmaState as EmaState
from ._scaling import ScaleByScheduleState as ScaleByScheduleState
from ._scaling import TraceState as TraceState
from ._scaling import add_decayed_weights as add_decayed_weights
from ._scaling import add_noise as add_noise
from ._scaling import centralize as centralize
from ._scaling import ema as ema
from ._scaling import scale as scale
from ._scaling import scale_by_learning_rate as scale_by_learning_rate
from ._scaling import scale_by_param_block_rms as scale_by_param_block_rms
from ._scaling import scale_by_schedule as scale_by_schedule
from ._scaling import scale_by_sign as scale_by_sign
from ._scaling import scale_by_trust_ratio as scale_by_trust_ratio
from ._scaling import trace as trace
from ._schedules import constant_schedule as constant_schedule
from ._schedules import cosine_decay_schedule as cosine_decay_schedule
from ._schedules import cosine_onecycle_schedule as cosine_onecycle_schedule
from ._schedules import exponential_decay as exponential_decay
from ._schedules import join_schedules as join_schedules
from ._schedules import linear_schedule as linear_schedule
from ._schedules import piecewise_constant_schedule as piecewise_constant_schedule
from ._schedules import piecewise_interpolate_schedule as piecewise_interpolate_schedule
from ._schedules import polynomial_schedule as polynomial_schedule
from ._schedules import sgdr_schedule as sgdr_schedule
from ._schedules import warmup_cosine_decay_schedule as warmup_cosine_decay_schedule
from ._schedules import warmup_exponential_decay_schedule as warmup_exponential_decay_schedule
from ._transforms import ScaleByAdaDeltaState as ScaleByAdaDeltaState
from ._transforms import ScaleByAdamState as ScaleByAdamState
from ._transforms import ScaleByAmsgradState as ScaleByAmsgradState
from ._transforms import ScaleByBeliefState as ScaleByBeliefState
from ._transforms import ScaleByLionState as ScaleByLionState
from ._transforms import ScaleByNovogradState as ScaleByNovogradState
from ._transforms import ScaleByRmsState as ScaleByRmsState
from ._transforms import ScaleByRssState as ScaleByRssState
from ._transforms import ScaleByRStdDevState as ScaleByRStdDevState
from ._transforms import ScaleBySM3State as ScaleBySM3State
from ._transforms import scale_by_adadelta as scale_by_adadelta
from ._transforms import scale_by_adam as scale_by_adam
from ._transforms import scale_by_adamax as scale_by_adamax
from ._transforms import scale_by_amsgrad as scale_by_amsgrad
from ._transforms import scale_by_belief as scale_by_belief
from ._transforms import scale_by_lion as scale_by_lion
from ._transforms import scale_by_novograd as scale_by_novograd
from ._transforms import scale_by_radam as scale_by_radam
from ._transforms import scale_by_rms as scale_by_rms
from ._transforms import scale_by_rss as scale_by_rss
from ._transforms import scale_by_sm3 as scale_by_sm3
from ._transforms import scale_by_stddev as scale_by_stddev
from ._transforms import scale_by_yogi as scale_by_yogi
from ._tree_utils import safe_increment as safe_increment
from ._tree_utils import tree_add as tree_add
from ._tree_utils import tree_bias_correction as tree_bias_correction
from ._tree_utils import tree_cast as tree_cast
from ._tree_utils import tree_full_like as tree_full_like
from ._tree_utils import tree_l2_norm as tree_l2_norm
from ._tree_utils import tree_mul as tree_mul
from ._tree_utils import tree_ones_like as tree_ones_like
from ._tree_utils import tree_scale as tree_scale
from ._tree_utils import tree_sub as tree_sub
from ._tree_utils import tree_sum as tree_sum
from ._tree_utils import tree_update_infinity_moment as tree_update_infinity_moment
from ._tree_utils import tree_update_moment as tree_update_moment
from ._tree_utils import tree_update_moment_per_elem_norm as tree_update_moment_per_elem_norm
from ._tree_utils import tree_vdot as tree_vdot
from ._tree_utils import tree_zeros_like as tree_zeros_like
from ._wrappers import ApplyEvery as ApplyEvery
from ._wrappers import ApplyIfFiniteState as ApplyIfFiniteState
from ._wrappers import InjectHyperparamsState as InjectHyperparamsState
from ._wrappers import MaskedNode as MaskedNode
from ._wrappers import MaskedState as MaskedState
from ._wrappers import MultiSteps as MultiSteps
from ._wrappers import MultiStepsState as MultiStepsState
from ._wrappers import MultiTransformState as MultiTransformState
from ._wrappers import apply_every as apply_every
from ._wrappers import apply_if_finite as apply_if_finite
from ._wrappers import inject_hyperparams as inject_hyperparams
from ._wrappers import masked as masked
from ._wrappers import multi_transform as multi_transform
from ._wrappers import skip_large_updates as skip_large_updates
from ._wrappers import skip_not_finite as skip_not_finite

__all__ = [
    "AddDecayedWeightsState",
    "AddNoiseState",
    "ApplyEvery",
    "ApplyIfFiniteState",
    "EmaState",
    "EmptyState",
    "FactoredState",
    "GradientTransformation",
    "GradientTransformationExtraArgs",
    "InjectHyperparamsState",
    "MaskedNode",
    "MaskedState",
    "MultiSteps",
    "MultiStepsState",
    "MultiTransformState",
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByAmsgradState",
    "ScaleByBeliefState",
    "ScaleByLionState",
    "ScaleByNovogradState",
    "ScaleByRStdDevState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleBySM3State",
    "ScaleByScheduleState",
    "Schedule",
    "TraceState",
    "ZeroNansState",
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "add_decayed_weights",
    "add_noise",
    "amsgrad",
    "apply_every",
    "apply_if_finite",
    "apply_updates",
    "centralize",
    "chain",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_distance",
    "cosine_onecycle_schedule",
    "cosine_similarity",
    "ema",
    "exponential_decay",
    "fromage",
    "global_norm",
    "hinge_loss",
    "huber_loss",
    "identity",
    "init_empty_state",
    "inject_hyperparams",
    "join_schedules",
    "kl_divergence",
    "l2_loss",
    "lamb",
    "lars",
    "linear_schedule",
    "lion",
    "log_cosh",
    "masked",
    "multi_transform",
    "nadam",
    "named_chain",
    "noisy_sgd",
    "novograd",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "radam",
    "rmsprop",
    "safe_increment",
    "safe_norm",
    "safe_root_mean_squares",
    "scale",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_amsgrad",
    "scale_by_belief",
    "scale_by_factored_rms",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_novograd",
    "scale_by_param_block_rms",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_sign",
    "scale_by_sm3",
    "scale_by_stddev",
    "scale_by_trust_ratio",
    "scale_by_yogi",
    "set_to_zero",
    "sgd",
    "sgdr_schedule",
    "sigmoid_binary_cross_entropy",
    "sign_sgd",
    "skip_large_updates",
    "skip_not_finite",
    "sm3",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "squared_error",
    "stateless",
    "trace",
    "tree_add",
    "tree_bias_correction",
    "tree_cast",
    "tree_full_like",
    "tree_l2_norm",
    "tree_mul",
    "tree_ones_like",
    "tree_scale",
    "tree_sub",
    "tree_sum",
    "tree_update_infinity_moment",
    "tree_update_moment",
    "tree_update_moment_per_elem_norm",
    "tree_vdot",
    "tree_zeros_like",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "with_extra_args_support",
    "yogi",
    "zero_nans",
]
