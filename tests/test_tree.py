"""Tests for derivax.tree: flattening, structure, key paths, registration, errors."""

import collections
import copy
import dataclasses
import doctest
import functools
import importlib
import operator

import numpy as np
import pytest

from derivax import tree
from derivax.tree import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey

Point = collections.namedtuple("Point", ["x", "y"])


class Box:
    """A class registered with register_pytree_node (no key function)."""

    def __init__(self, content, label):
        self.content, self.label = content, label

    def __eq__(self, other):
        return type(other) is Box and (self.content, self.label) == (other.content, other.label)

    __hash__ = None


tree.register_pytree_node(Box, lambda b: ((b.content,), b.label), lambda label, c: Box(c[0], label))


@tree.register_pytree_node_class
class Pair:
    """A class registered with register_pytree_node_class."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def tree_flatten(self):
        return (self.first, self.second), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)

    def __eq__(self, other):
        return type(other) is Pair and (self.first, self.second) == (other.first, other.second)

    __hash__ = None


@tree.register_dataclass
@dataclasses.dataclass
class Dense:
    w: object
    b: object
    act: str = dataclasses.field(default="relu", metadata={"static": True})


@tree.register_static
@dataclasses.dataclass(frozen=True)
class Config:
    depth: int


def _defaultdict(**kw):
    return collections.defaultdict(list, kw)


# (tree, leaves in flattening order, treedef repr), all written out by hand.
ROUND_TRIPS = [
    (1.5, [1.5], "PyTreeDef(*)"),
    ("text", ["text"], "PyTreeDef(*)"),
    (None, [], "PyTreeDef(None)"),
    ([], [], "PyTreeDef([])"),
    ((), [], "PyTreeDef(())"),
    ({}, [], "PyTreeDef({})"),
    ((7,), [7], "PyTreeDef((*,))"),
    ([1, (2, 3)], [1, 2, 3], "PyTreeDef([*, (*, *)])"),
    ({"b": 1, "a": 2, "c": 3}, [2, 1, 3], "PyTreeDef({'a': *, 'b': *, 'c': *})"),
    ({"z": [None, 4], "y": {"q": 5}}, [5, 4], "PyTreeDef({'y': {'q': *}, 'z': [None, *]})"),
    ({2: "two", 1: "one"}, ["one", "two"], "PyTreeDef({1: *, 2: *})"),
    (
        collections.OrderedDict([("b", 1), ("a", 2)]),
        [1, 2],
        "PyTreeDef(OrderedDict({'b': *, 'a': *}))",
    ),
    (_defaultdict(b=1, a=2), [2, 1], "PyTreeDef(defaultdict(<class 'list'>, {'a': *, 'b': *}))"),
    (Point(1, [2, 3]), [1, 2, 3], "PyTreeDef(Point(x=*, y=[*, *]))"),
    (Box([1, 2], "lbl"), [1, 2], "PyTreeDef(CustomNode(Box['lbl'], [[*, *]]))"),
    (Pair(1, (2,)), [1, 2], "PyTreeDef(CustomNode(Pair[None], [*, (*,)]))"),
    (Dense(1.0, [2.0]), [1.0, 2.0], "PyTreeDef(Dense(w=*, b=[*], act='relu'))"),
    ([Config(3), 4], [4], "PyTreeDef([Config[Config(depth=3)], *])"),
    (
        {"f": tree.Partial(operator.add, 1)},
        [1],
        "PyTreeDef({'f': Partial(add, args=(*,), keywords={})})",
    ),
    ([[[[[1]]]], [[[2]]]], [1, 2], "PyTreeDef([[[[[*]]]], [[[*]]]])"),
]


@pytest.mark.parametrize("value,expected_leaves,expected_repr", ROUND_TRIPS)
def test_round_trip(value, expected_leaves, expected_repr):
    leaves, treedef = tree.flatten(value)
    assert leaves == expected_leaves
    assert treedef.num_leaves == len(expected_leaves)
    assert repr(treedef) == expected_repr
    rebuilt = tree.unflatten(treedef, leaves)
    assert type(rebuilt) is type(value)
    assert tree.structure(rebuilt) == treedef
    if isinstance(value, dict) and isinstance(value.get("f"), tree.Partial):
        # functools.partial has no __eq__: compare its parts.
        assert (rebuilt["f"].func, rebuilt["f"].args) == (operator.add, (1,))
    else:
        assert rebuilt == value
    # The third and later unflattens of one treedef use a compiled builder: same result.
    for _ in range(3):
        assert tree.structure(treedef.unflatten(leaves)) == treedef
        assert tree.leaves(treedef.unflatten(leaves)) == expected_leaves


def test_round_trip_keeps_array_leaves_by_identity():
    a, b = np.zeros(3), np.ones(2)
    params = {"w": a, "b": b, "layers": [{"w": a, "b": b}] * 3}
    leaves, treedef = tree.flatten(params)
    # Sorted keys: b, layers[0].b, layers[0].w, ..., w.
    assert [x is a for x in leaves] == [False, False, True, False, True, False, True, True]
    for _ in range(3):
        rebuilt = treedef.unflatten(leaves)
        assert rebuilt["w"] is a and rebuilt["layers"][2]["b"] is b


def test_unflatten_of_defaultdict_and_dataclass_rebuilds_static_parts():
    d = tree.map(lambda x: x + 1, _defaultdict(a=1))
    assert d.default_factory is list and d["a"] == 2
    layer = tree.map(lambda x: x * 2, Dense(1.0, 2.0, act="tanh"))
    assert (layer.w, layer.b, layer.act) == (2.0, 4.0, "tanh")


def test_dict_leaves_follow_sorted_keys_and_ordered_dict_insertion_order():
    assert tree.leaves({"b": "B", "a": "A", "c": "C"}) == ["A", "B", "C"]
    od = collections.OrderedDict([("b", "B"), ("a", "A")])
    assert tree.leaves(od) == ["B", "A"]
    assert list(tree.map(str.lower, od)) == ["b", "a"]


def test_unsortable_dict_keys_error_names_the_types_and_the_fix():
    with pytest.raises(TypeError, match=r"int, str.*OrderedDict"):
        tree.flatten({1: "x", "a": "y"})


def test_unregistered_subclasses_and_other_objects_are_leaves():
    class MyDict(dict):
        pass

    class MyList(list):
        pass

    values = [MyDict(a=1), MyList([1]), np.arange(3), print, "str", 3j]
    leaves = tree.leaves(values)
    assert len(leaves) == 6 and all(x is y for x, y in zip(leaves, values, strict=True))


def test_none_is_an_empty_subtree():
    assert tree.leaves([None, 1, None]) == [1]
    assert tree.map(lambda x: x + 1, [None, 1]) == [None, 2]
    assert tree.structure(None).num_leaves == 0
    assert tree.structure(None).num_nodes == 1
    assert tree.structure([None]) != tree.structure([1])
    assert tree.leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]


def _is_tuple(x):
    return isinstance(x, tuple)


def test_is_leaf_stops_at_the_subtrees_it_selects():
    value = {"a": (1, 2), "b": [(3, 4), 5]}
    assert tree.leaves(value, is_leaf=_is_tuple) == [(1, 2), (3, 4), 5]
    _, treedef = tree.flatten(value, is_leaf=_is_tuple)
    assert repr(treedef) == "PyTreeDef({'a': *, 'b': [*, *]})"
    swapped = tree.map(lambda t: t[::-1] if _is_tuple(t) else -t, value, is_leaf=_is_tuple)
    assert swapped == {"a": (2, 1), "b": [(4, 3), -5]}


def test_is_leaf_on_the_root_and_not_callable():
    leaves, treedef = tree.flatten([1, 2], is_leaf=lambda x: True)
    assert leaves == [[1, 2]] and repr(treedef) == "PyTreeDef(*)"
    for fn in (tree.flatten, tree.leaves, tree.structure, tree.flatten_with_path):
        with pytest.raises(TypeError, match="`is_leaf` must be None or a callable"):
            fn([1], is_leaf=True)
    with pytest.raises(TypeError, match="`is_leaf`"):
        tree.map(abs, [1], is_leaf="x")


def test_key_entries_print_and_compare_like_jax():
    assert [str(DictKey("a")), str(DictKey(0)), str(SequenceKey(2))] == ["['a']", "[0]", "[2]"]
    assert str(GetAttrKey("w")) == ".w"
    assert str(FlattenedIndexKey(4)) == "[<flat index 4>]"
    assert DictKey("a") == DictKey("a") and hash(DictKey("a")) == hash(DictKey("a"))
    assert DictKey(0) != SequenceKey(0)
    assert len({DictKey(1), DictKey(1), SequenceKey(1), FlattenedIndexKey(1)}) == 3


def test_flatten_with_path_gives_every_kind_of_key():
    value = {
        "dense": Dense([10, 11], 12),
        "point": Point(13, 14),
        "box": Box(15, "b"),
        "seq": (16,),
    }
    pairs, treedef = tree.flatten_with_path(value)
    assert treedef == tree.structure(value)
    assert [(tree.keystr(p), x) for p, x in pairs] == [
        ("['box'][<flat index 0>]", 15),
        ("['dense'].w[0]", 10),
        ("['dense'].w[1]", 11),
        ("['dense'].b", 12),
        ("['point'].x", 13),
        ("['point'].y", 14),
        ("['seq'][0]", 16),
    ]
    assert pairs[1][0] == (DictKey("dense"), GetAttrKey("w"), SequenceKey(0))
    assert tree.leaves_with_path(value) == pairs


def test_keystr_simple_and_separator():
    path = (DictKey("params"), SequenceKey(1), GetAttrKey("kernel"), FlattenedIndexKey(0))
    assert tree.keystr(path) == "['params'][1].kernel[<flat index 0>]"
    assert tree.keystr(path, simple=True, separator="/") == "params/1/kernel/0"
    assert tree.keystr(()) == ""
    with pytest.raises(TypeError, match="key path"):
        tree.keystr("['a']")


def test_flatten_with_keys_fn_names_children():
    class Named:
        def __init__(self, a, b):
            self.a, self.b = a, b

    tree.register_pytree_node(
        Named,
        lambda n: ((n.a, n.b), None),
        lambda _, c: Named(*c),
        lambda n: (((GetAttrKey("a"), n.a), (GetAttrKey("b"), n.b)), None),
    )
    paths = [tree.keystr(p) for p, _ in tree.leaves_with_path([Named(1, 2)])]
    assert paths == ["[0].a", "[0].b"]


def test_map_with_path():
    params = {"w": [1.0, 2.0], "b": 3.0}
    out = tree.map_with_path(lambda p, x, y: (tree.keystr(p), x + y), params, params)
    assert out == {"w": [("['w'][0]", 2.0), ("['w'][1]", 4.0)], "b": ("['b']", 6.0)}


def test_register_errors_name_the_argument():
    with pytest.raises(ValueError, match="already registered"):
        tree.register_pytree_node(Box, lambda b: ((), None), lambda a, c: Box(None, a))
    with pytest.raises(ValueError, match="already registered"):
        tree.register_static(list)
    with pytest.raises(TypeError, match="`nodetype` must be a class"):
        tree.register_pytree_node("Box", lambda b: b, lambda a, c: c)
    with pytest.raises(TypeError, match="`unflatten_fn` must be callable"):
        tree.register_pytree_node(type("T", (), {}), lambda b: b, None)


def test_register_pytree_node_class_requires_both_methods():
    class Half:
        def tree_flatten(self):
            return (), None

    with pytest.raises(TypeError, match="tree_unflatten"):
        tree.register_pytree_node_class(Half)


def test_registering_a_type_already_seen_as_a_leaf_makes_it_a_node():
    class Late:
        def __init__(self, v):
            self.v = v

    obj = Late(5)
    assert tree.leaves([obj]) == [obj]
    tree.register_pytree_node(Late, lambda x: ((x.v,), None), lambda _, c: Late(c[0]))
    assert tree.leaves([obj]) == [5]


def test_register_dataclass_unflatten_skips_init_and_post_init():
    @tree.register_dataclass
    @dataclasses.dataclass(frozen=True)
    class Checked:
        value: object

        def __post_init__(self):
            if not isinstance(self.value, float):
                raise TypeError("value must be a float")

    rebuilt = tree.map(lambda _: None, Checked(1.0))  # placeholders must not hit validation
    assert rebuilt.value is None and type(rebuilt) is Checked


def test_register_dataclass_with_explicit_fields_and_as_decorator_factory():
    @tree.register_dataclass(data_fields=["x"], meta_fields=["name"])
    class Plain:
        def __init__(self, x, name):
            self.x, self.name = x, name

    leaves, treedef = tree.flatten(Plain(3, "p"))
    assert leaves == [3]
    rebuilt = treedef.unflatten([4])
    assert (rebuilt.x, rebuilt.name) == (4, "p")
    assert tree.structure(Plain(0, "p")) != tree.structure(Plain(0, "q"))

    @dataclasses.dataclass
    class OnlyMeta:
        a: int
        b: int

    tree.register_dataclass(OnlyMeta, meta_fields=["b"])
    assert tree.leaves(OnlyMeta(1, 2)) == [1]


def test_register_dataclass_field_errors():
    @dataclasses.dataclass
    class D:
        a: int
        b: int

    with pytest.raises(ValueError, match="both data_fields and meta_fields"):
        tree.register_dataclass(D, data_fields=["a", "b"], meta_fields=["b"])
    with pytest.raises(ValueError, match=r"\['c'\] are not fields"):
        tree.register_dataclass(D, data_fields=["a", "c"], meta_fields=["b"])
    with pytest.raises(ValueError, match=r"fields \['b'\].*in neither"):
        tree.register_dataclass(D, data_fields=["a"], meta_fields=[])
    with pytest.raises(TypeError, match="not a dataclass"):
        tree.register_dataclass(type("NotDC", (), {}))
    with pytest.raises(TypeError, match="sequence of field names"):
        tree.register_dataclass(D, data_fields="a")


def test_register_static_puts_the_instance_in_the_treedef():
    assert tree.leaves({"cfg": Config(2), "x": 1}) == [1]
    assert tree.structure([Config(2)]) == tree.structure([Config(2)])
    assert tree.structure([Config(2)]) != tree.structure([Config(3)])
    assert tree.map(lambda x: x, [Config(2)])[0] == Config(2)


def test_partial_is_a_pytree_with_static_function():
    def affine(x, w, b):
        return w * x + b

    f = tree.Partial(affine, w=2.0, b=1.0)
    assert f(3.0) == 7.0
    assert tree.leaves(f) == [1.0, 2.0]  # keywords sorted by name
    g = tree.map(lambda v: v * 10, f)
    assert isinstance(g, tree.Partial) and g(1.0) == 30.0
    assert tree.structure(f) == tree.structure(tree.Partial(affine, w=5.0, b=6.0))
    assert tree.structure(f) != tree.structure(tree.Partial(operator.add, w=5.0, b=6.0))
    nested = tree.Partial(functools.partial(affine, 1.0), 2.0)
    assert nested.func is affine and nested.args == (1.0, 2.0)
    assert tree.leaves(nested) == [1.0, 2.0]
    assert nested(b=3.0) == 5.0


def test_treedef_hash_eq_and_use_as_cache_key():
    a = tree.structure({"w": 1, "b": [2, 3]})
    b = tree.structure({"b": ["x", "y"], "w": np.zeros(2)})
    assert a == b and hash(a) == hash(b)
    assert a != tree.structure({"w": 1, "b": (2, 3)})
    assert a != tree.structure({"w": 1, "c": [2, 3]})
    assert tree.structure([1, 2]) != tree.structure((1, 2))
    assert tree.structure(Point(1, 2)) != tree.structure((1, 2))
    od1 = collections.OrderedDict([("a", 1), ("b", 2)])
    od2 = collections.OrderedDict([("b", 1), ("a", 2)])
    assert tree.structure(od1) != tree.structure(od2)
    assert tree.structure(_defaultdict(a=1)) != tree.structure(collections.defaultdict(dict, a=1))
    assert tree.structure(Box(1, "x")) != tree.structure(Box(1, "y"))
    cache = {a: "hit"}
    assert cache[b] == "hit"
    assert a != "PyTreeDef" and a != None  # noqa: E711


def test_treedef_survives_copy_and_repeated_unflatten_of_deep_and_wide_trees():
    treedef = tree.structure({"a": [1, (2, None)]})
    assert copy.deepcopy(treedef) == treedef and copy.copy(treedef) == treedef
    assert copy.deepcopy(treedef).unflatten([3, 4]) == {"a": [3, (4, None)]}
    deep = "leaf"
    for _ in range(60):  # deeper than the compiled builder handles: stays on the walker
        deep = [deep]
    wide = list(range(5000))  # more leaves than the compiled builder handles
    for value in (deep, wide):
        leaves, treedef = tree.flatten(value)
        for _ in range(3):
            assert treedef.unflatten(leaves) == value


def test_treedef_with_unhashable_aux_data_names_the_node():
    treedef = tree.structure([Box(1, ["unhashable", "label"])])
    with pytest.raises(TypeError, match=r"Box \(aux data \['unhashable', 'label'\]\)"):
        hash(treedef)


def test_treedef_counts_children_and_flatten_up_to():
    treedef = tree.structure({"a": 1, "b": [2, None, (3,)]})
    assert treedef.num_leaves == 3
    assert treedef.num_nodes == 7  # dict, 1, list, 2, None, tuple, 3
    assert [repr(c) for c in treedef.children()] == ["PyTreeDef(*)", "PyTreeDef([*, None, (*,)])"]
    assert tree.structure(5).children() == []
    assert tree.structure([0, 0]).flatten_up_to([{"k": 1}, (2, 3)]) == [{"k": 1}, (2, 3)]
    with pytest.raises(tree.TreeStructureError, match=r"at \[1\]: treedef has None, tree has a"):
        tree.structure([0, None]).flatten_up_to([1, 2])


def test_unflatten_checks_the_leaf_count_and_argument_order():
    treedef = tree.structure({"a": 1, "b": (2, 3)})
    with pytest.raises(ValueError, match=r"expected 3 leaves .* got 2"):
        treedef.unflatten([1, 2])
    with pytest.raises(ValueError, match=r"expected 3 leaves .* got 4"):
        tree.unflatten(treedef, [1, 2, 3, 4])
    with pytest.raises(TypeError, match=r"unflatten\(treedef, leaves\)"):
        tree.unflatten([1, 2, 3], treedef)
    assert tree.unflatten(treedef, iter([7, 8, 9])) == {"a": 7, "b": (8, 9)}


def test_map_over_several_trees_and_prefix_semantics():
    assert tree.map(lambda x, y, z: x + y + z, [1, (2,)], [10, (20,)], [100, (200,)]) == [
        111,
        (222,),
    ]
    # Where the first tree has a leaf, the others may hold any subtree (passed whole).
    out = tree.map(lambda x, sub: (x, sub), {"a": 1, "b": 2}, {"a": [3, 4], "b": None})
    assert out == {"a": (1, [3, 4]), "b": (2, None)}


def test_map_mismatch_lists_every_differing_path():
    first = {"params": {"w": 1, "b": None}, "layers": [1, 2, 3], "x": 0}
    second = {"params": {"w": 1, "b": 2}, "layers": [1, 2], "x": 0}
    with pytest.raises(tree.TreeStructureError) as info:
        tree.map(lambda a, b: a, first, second)
    message = str(info.value)
    assert "at ['layers']: tree 0 is a list of length 3, tree 1 is a list of length 2" in message
    assert "at ['params']['b']: tree 0 has None, tree 1 has a leaf" in message
    assert "rest[0]" in message
    assert len(info.value.differences) == 2
    assert isinstance(info.value, ValueError)


def test_map_mismatch_in_several_trees_and_dict_keys():
    with pytest.raises(tree.TreeStructureError) as info:
        tree.map(lambda *a: 0, {"a": 1, "b": [1]}, {"a": 1, "c": [1]}, {"a": 1, "b": (1,)})
    lines = info.value.differences
    assert lines == [
        "at the root: tree 0 is a dict with keys ['a', 'b'], tree 1 is a dict with keys "
        "['a', 'c'] (only in tree 0: ['b']; only in tree 1: ['c'])",
        "at ['b']: tree 0 is a list of length 1, tree 2 is a tuple of length 1",
    ]


def test_map_mismatch_of_custom_nodes_shows_aux_data():
    with pytest.raises(tree.TreeStructureError, match=r"at \[0\]: tree 0 is a Box .*'x'.*'y'"):
        tree.map(lambda a, b: a, [Box(1, "x")], [Box(1, "y")])
    with pytest.raises(tree.TreeStructureError, match=r"tree 0 is a Point \(namedtuple\)"):
        tree.map(lambda a, b: a, Point(1, 2), (1, 2))


def test_diff():
    assert tree.diff({"a": [1, 2]}, {"a": [3, 4]}) is None
    assert tree.diff(Dense(1, 2), Dense(3, 4)) is None
    text = tree.diff(
        {"params": {"w": 1, "b": 2}, "x": [1, 2, 3]},
        {"params": {"w": 1, "b": None}, "x": [1, 2]},
    )
    assert text.splitlines() == [
        "at ['params']['b']: a has a leaf, b has None",
        "at ['x']: a is a list of length 3, b is a list of length 2",
    ]
    assert tree.diff([1], [(1, 2)]) == "at [0]: a has a leaf, b is a tuple of length 2"
    assert tree.diff([(1, 2)], [(1, 2)], is_leaf=lambda x: isinstance(x, tuple)) is None
    od_a = collections.OrderedDict([("a", 1), ("b", 2)])
    od_b = collections.OrderedDict([("b", 1), ("a", 2)])
    assert "the same keys in a different order" in tree.diff(od_a, od_b)


def test_transpose():
    outer = tree.structure([0, 0, 0])
    inner = tree.structure({"x": 0, "y": 0})
    rows = [{"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5, "y": 6}]
    assert tree.transpose(outer, inner, rows) == {"x": [1, 3, 5], "y": [2, 4, 6]}
    assert tree.transpose(outer, None, rows) == {"x": [1, 3, 5], "y": [2, 4, 6]}
    assert tree.transpose(tree.structure((0, 0)), None, ([1, 2], [3, 4])) == [(1, 3), (2, 4)]
    assert tree.transpose(tree.structure([]), tree.structure((0, 0)), []) == ([], [])
    bad = [{"x": 1, "y": 2}, {"x": 3, "z": 4}, {"x": 5, "y": (6,)}]  # a subtree at y is fine
    with pytest.raises(tree.TreeStructureError) as info:
        tree.transpose(outer, inner, bad)
    assert info.value.differences == [
        "at [1]: inner_treedef is a dict with keys ['x', 'y'], the tree is a dict with keys "
        "['x', 'z'] (only in inner_treedef: ['y']; only in the tree: ['z'])"
    ]
    with pytest.raises(tree.TreeStructureError, match="list of length 3"):
        tree.transpose(outer, inner, rows[:2])
    with pytest.raises(TypeError, match="`outer_treedef` must be a PyTreeDef"):
        tree.transpose([0, 0], inner, rows)


def test_reduce_and_all():
    assert tree.reduce(operator.add, {"a": 1, "b": [2, 3]}) == 6
    assert tree.reduce(operator.add, [[1], [2]], initializer=10) == 13
    assert tree.reduce(operator.add, [None, {}], initializer=0) == 0
    assert tree.reduce(lambda acc, t: acc + len(t), [(1, 2), (3,)], 0, is_leaf=lambda x: True) == 2
    with pytest.raises(TypeError, match="initializer"):
        tree.reduce(operator.add, [])
    assert tree.all({"a": True, "b": [1, "s"]}) is True
    assert tree.all({"a": True, "b": [0]}) is False
    assert tree.all([None, []]) is True
    assert tree.all([(), 1], is_leaf=lambda x: x == ()) is False


PUBLIC = {
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "Partial",
    "PyTreeDef",
    "SequenceKey",
    "TreeStructureError",
    "all",
    "diff",
    "flatten",
    "flatten_with_path",
    "keystr",
    "leaves",
    "leaves_with_path",
    "map",
    "map_with_path",
    "reduce",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_static",
    "structure",
    "transpose",
    "unflatten",
}


def test_public_api_is_documented_with_examples():
    assert set(tree.__all__) == PUBLIC
    for name in PUBLIC:
        doc = getattr(tree, name).__doc__ or ""
        assert ">>>" in doc, f"derivax.tree.{name} has no >>> example"


@pytest.mark.parametrize(
    "module", ["_keys", "_registry", "_mismatch", "_treedef", "_partial", "_api"]
)
def test_docstring_examples_run(module):
    mod = importlib.import_module(f"derivax.tree.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


ORACLE_TREES = [
    {"b": [1, None, (2, 3)], "a": {"y": 4, "x": 5}},
    [None, (), [], {}, 6],
    Point(7, {"k": [8, 9]}),
    collections.OrderedDict([("z", 10), ("a", (11,))]),
    collections.defaultdict(list, {"q": 12, "p": [13]}),
]


@pytest.mark.oracle
@pytest.mark.parametrize("value", ORACLE_TREES)
def test_matches_jax_leaves_paths_and_counts(value):
    jax = pytest.importorskip("jax", reason="oracle test: compares derivax.tree with JAX")
    assert tree.leaves(value) == jax.tree_util.tree_leaves(value)
    ours = [tree.keystr(p) for p, _ in tree.leaves_with_path(value)]
    theirs = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(value)]
    assert ours == theirs
    ours_def, theirs_def = tree.structure(value), jax.tree_util.tree_structure(value)
    assert (ours_def.num_leaves, ours_def.num_nodes) == (
        theirs_def.num_leaves,
        theirs_def.num_nodes,
    )
