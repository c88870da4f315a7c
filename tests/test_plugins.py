"""The op registry: plugins found, checked and registered through pluggy; bad plugins reported."""
import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import lucid
from lucid import Arg, Op, OpError, PluginError
from lucid.plugins import Registry


def plugin_module(name, source):
    module = types.ModuleType(name)
    exec(textwrap.dedent(source), module.__dict__)
    return module


CUBE = """
    import numpy as np
    from lucid import Op, hookimpl

    cube = Op("test_cube", lambda x: x ** 3, lambda g, out, x: (3 * g * x * x,))

    @hookimpl
    def lucid_ops():
        return [cube]
"""


@pytest.fixture
def registered():
    """Register plugins on the global registry for one test, and remove them afterwards."""
    names = []

    def register(module, name):
        names.append(name)
        return lucid.register_plugin(module, name=name)

    yield register
    for name in names:
        if lucid.registry.manager.get_plugin(name) is not None:
            lucid.registry.unregister_plugin(name)


def test_builtin_ops_are_registered_in_name_order():
    names = list(lucid.registry)
    assert names == sorted(names) and {"add", "mul", "exp", "sum", "matmul"} <= set(names)
    assert lucid.registry["exp"].name == "exp" and lucid.registry.plugin_of("exp") == "lucid_ops.exponential"
    assert not lucid.registry.errors
    with pytest.raises(TypeError):
        lucid.registry["exp"] = lucid.registry["log"]  # read-only


def test_runtime_plugin_op_is_callable_and_differentiable(registered):
    registered(plugin_module("cube_plugin", CUBE), "cube_plugin")
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    y = lucid.ops.test_cube(x)
    np.testing.assert_allclose(y.data, [1, 8])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [3, 12])
    assert "test_cube" in lucid.registry


def test_dotted_names_make_namespaces(registered):
    registered(plugin_module("ns_plugin", CUBE.replace('"test_cube"', '"mylib.cube"')), "ns_plugin")
    assert lucid.ops.mylib.cube(lucid.tensor(2.0)).item() == 8.0
    assert "cube" in dir(lucid.ops.mylib)
    with pytest.raises(AttributeError, match="mylib.nope"):
        _ = lucid.ops.mylib.nope


def test_duplicate_op_name_names_both_plugins(registered):
    registered(plugin_module("first_plugin", CUBE), "first_plugin")
    with pytest.raises(PluginError, match=r"second_plugin.*'test_cube' is already registered by plugin 'first_plugin'"):
        lucid.register_plugin(plugin_module("second_plugin", CUBE), name="second_plugin")
    assert lucid.registry.manager.get_plugin("second_plugin") is None  # left as it was


def test_unknown_hook_is_rejected():
    bad = plugin_module("typo_plugin", """
        from lucid import hookimpl

        @hookimpl
        def lucid_opz():
            return []
    """)
    with pytest.raises(PluginError, match=r"typo_plugin.*lucid_opz"):
        Registry().register_plugin(bad, name="typo_plugin")


def test_hookimpl_with_wrong_signature_is_rejected():
    bad = plugin_module("sig_plugin", """
        from lucid import hookimpl

        @hookimpl
        def lucid_ops(config):
            return []
    """)
    with pytest.raises(PluginError, match=r"sig_plugin.*config"):
        Registry().register_plugin(bad, name="sig_plugin")


def test_plugin_returning_a_non_op_is_rejected():
    bad = plugin_module("junk_plugin", """
        from lucid import hookimpl

        @hookimpl
        def lucid_ops():
            return ["exp"]
    """)
    with pytest.raises(PluginError, match=r"junk_plugin.*'exp'.*not a lucid.Op"):
        Registry().register_plugin(bad, name="junk_plugin")


def test_op_without_forward_or_vjp_names_the_op():
    with pytest.raises(OpError, match=r"'half'.*vjp must be callable"):
        Op("half", lambda x: x / 2, None)
    with pytest.raises(OpError, match=r"'half'.*forward must be callable"):
        Op("half", None, lambda g, out, x: (g / 2,))


def test_vjp_with_wrong_number_of_gradients_names_the_op(registered):
    registered(plugin_module("bad_arity", """
        from lucid import Op, hookimpl
        twice = Op("test_twice", lambda x: 2 * x, lambda g, out, x: (2 * g, g))

        @hookimpl
        def lucid_ops():
            return [twice]
    """), "bad_arity")
    x = lucid.tensor([1.0], requires_grad=True)
    with pytest.raises(OpError, match=r"test_twice: vjp returned 2 gradients for 1 inputs"):
        lucid.ops.test_twice(x).sum().backward()


def test_vjp_gradient_of_unreducible_shape_names_op_input_and_shapes(registered):
    registered(plugin_module("bad_shape", """
        import numpy as np
        from lucid import Op, hookimpl
        wrong = Op("test_wrong_shape", lambda x: x.sum(), lambda g, out, x: (np.ones(x.shape[0] + 1),))

        @hookimpl
        def lucid_ops():
            return [wrong]
    """), "bad_shape")
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(OpError, match=r"test_wrong_shape: vjp gave input 0 a gradient of shape \(3,\).*\(2,\)"):
        lucid.ops.test_wrong_shape(x).backward()


def test_numpy_vjp_serves_first_order_only(registered):
    registered(plugin_module("numpy_rule", """
        import numpy as np
        from lucid import Op, hookimpl
        sine = Op("test_sine", np.sin, lambda g, out, x: (np.asarray(g) * np.cos(np.asarray(x)),))

        @hookimpl
        def lucid_ops():
            return [sine]
    """), "numpy_rule")
    x = lucid.tensor([0.5], dtype=lucid.float64, requires_grad=True)
    lucid.ops.test_sine(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cos(0.5))
    with pytest.raises(lucid.GraphError, match=r"test_sine: its vjp returns NumPy arrays"):
        lucid.grad(lucid.ops.test_sine(x).sum(), x, create_graph=True)


def test_calling_an_op_makes_no_hook_call(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a hook was called on the op hot path")

    monkeypatch.setattr(lucid.registry.manager, "_hookexec", forbidden)
    x = lucid.tensor([1.0, 2.0], requires_grad=True)
    (x.exp() * x).sum().backward()
    assert x.grad is not None


@pytest.fixture
def installed_distribution(tmp_path, monkeypatch):
    """A package installed the way pip installs one: importable, with a dist-info declaring entry points."""
    def install(dist, modules, entry_points):
        for module, source in modules.items():
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"  # as pip names it: '-' ends the name
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text("[lucid]\n" + lines)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield install
    for module in list(sys.modules):
        if module.startswith("ep_"):
            del sys.modules[module]


def test_entry_point_plugins_load_and_a_broken_one_is_reported(installed_distribution):
    installed_distribution("lucid-test-ops", {
        "ep_good": CUBE.replace("test_cube", "ep_cube"),
        "ep_broken": "raise ImportError('missing dependency frobnicate')",
    }, {"good": "ep_good", "broken": "ep_broken"})
    registry = Registry()
    with pytest.warns(RuntimeWarning, match="broken"):
        registry.load_entry_points()
    assert "ep_cube" in registry and registry.plugin_of("ep_cube") == "good"
    [error] = registry.errors
    assert error.plugin == "broken" and "frobnicate" in error.reason


def test_autoload_can_be_disabled(installed_distribution, monkeypatch):
    installed_distribution("lucid-test-ops", {"ep_auto": CUBE.replace("test_cube", "ep_auto_cube")},
                           {"auto": "ep_auto"})
    code = "import lucid; print('ep_auto_cube' in lucid.registry)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    on = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    off = subprocess.run([sys.executable, "-c", code], env={**env, "LUCID_DISABLE_PLUGIN_AUTOLOAD": "1"},
                         capture_output=True, text=True, check=True)
    assert (on.stdout.strip(), off.stdout.strip()) == ("True", "False")


def test_methods_whose_self_is_not_the_first_input_bind_like_pytorch():
    x = lucid.tensor([1.0, 2.0, 3.0], dtype=lucid.float64)
    condition = lucid.tensor([True, False, True])
    np.testing.assert_array_equal(x.where(condition, 0.0).data, [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(x.polygamma(1).data, lucid.polygamma(1, x).data)


def test_signature_gives_pytorchs_positional_order():
    pick = Op("test_pick", lambda x, index, dim: np.take(x, index, dim), lambda g, out, x, index, dim: (None, None),
              (Arg("input"), Arg("index", dtype="int")), params=(lucid.Param("dim"),),
              signature=("input", "dim", "index"))
    x = lucid.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(pick(x, 1, lucid.tensor([2, 0])).data, [[2, 0], [5, 3]])
    np.testing.assert_array_equal(pick(x, index=lucid.tensor([1]), dim=0).data, [[3, 4, 5]])
    with pytest.raises(OpError, match="got argument 'dim' twice"):
        pick(x, 1, lucid.tensor([0]), dim=0)
    with pytest.raises(OpError, match=r"signature \('input', 'index'\) must name each of \['input', 'index', 'dim'\]"):
        Op("test_bad", pick.forward, pick.vjp, pick.inputs, params=pick.params, signature=("input", "index"))


# -- Op metadata is checked when the Op is made, plugins when they are registered ----------------

@pytest.mark.parametrize("metadata, complaint", [
    (dict(outputs=-3), "outputs must be an int >= 1, got -3"),
    (dict(outputs=0), "outputs must be an int >= 1"),
    (dict(outputs=1.5), "outputs must be an int >= 1"),
    (dict(residuals=-2), "residuals must be an int >= 0, got -2"),
    (dict(residuals=True), "residuals must be an int >= 0"),
    (dict(shapes="(n,n"), "shapes must be 'elementwise' or a gufunc signature: '\\(n,n' is not"),
    (dict(shapes="elementwize"), "shapes must be 'elementwise' or a gufunc signature"),
    (dict(shapes="(n)->(m)"), "shapes .*: '\\(n\\)->\\(m\\)': output dimension 'm' is in no input"),
    (dict(shapes="(3?)->()"), "shapes .*: a fixed size cannot be optional"),
    (dict(shapes="(n),(n)->()"), "shapes .* relates 2 inputs and 1 outputs, but the op has 1 inputs"),
    (dict(kinks="abc"), "kinks must be a tuple of numbers or a function of the params"),
    (dict(kinks=(0.0, "1")), "kinks must be a tuple of numbers"),
    (dict(ties="yes"), "ties must be True or False"),
    (dict(sample="draw"), "sample must be a function"),
    (dict(signature=("input", 0)), "signature must be a tuple of argument names"),
    (dict(outputs=2, output_names=("values",)), "output_names must be a name \\(an identifier\\) for each of the 2"),
    (dict(outputs=2, output_names=("values", "the indices")), "output_names must be a name .*'the indices'"),
])
def test_bad_op_metadata_is_an_op_error_naming_op_and_field(metadata, complaint):
    with pytest.raises(OpError, match=r"op 'test_meta': " + complaint):
        Op("test_meta", np.exp, lambda g, out, x: (g * out,), **metadata)


@pytest.mark.parametrize("name", ["", "my op", "linalg..inv", ".exp", "exp.", "2x", 3])
def test_an_op_name_must_be_reachable_as_an_attribute(name):
    with pytest.raises(OpError, match="name must be Python names joined by dots"):
        Op(name, np.exp, lambda g, out, x: (g * out,))


def test_signature_parser_is_the_one_the_harness_uses():
    from lucid.op import parse_signature

    assert parse_signature("(m?, n),(n,p?) -> (m?,p?)") == ((("m?", "n"), ("n", "p?")), (("m?", "p?"),))
    assert parse_signature("(n,n)->(),()").outputs == ((), ())
    assert parse_signature("(3)->()").inputs == (("3",),)


@pytest.mark.parametrize("op_name, complaint", [
    ("linalg", r"op 'linalg' is the name of a namespace: plugin 'lucid_ops\.\w+' has op 'linalg.\w+'"),
    ("nn.functional", r"op 'nn.functional' is the name of a namespace: plugin 'lucid_ops\.\w+' has op"),
    ("exp.fast", r"op 'exp.fast' would live in the namespace 'exp', which is an op of plugin 'lucid_ops.exponential'"),
    ("ops", r"op 'ops': 'ops' is the namespace of every op"),
    ("ops.cube", r"op 'ops.cube': 'ops' is the namespace of every op"),
])
def test_an_op_colliding_with_a_namespace_is_refused(op_name, complaint):
    module = plugin_module("ns_clash", CUBE.replace('"test_cube"', repr(op_name)))
    with pytest.raises(PluginError, match=r"plugin 'ns_clash': " + complaint):
        lucid.register_plugin(module, name="ns_clash")
    assert lucid.registry.manager.get_plugin("ns_clash") is None and op_name not in lucid.registry
    assert isinstance(lucid.ops.linalg.inv, Op)


def test_one_plugin_cannot_make_an_op_and_a_namespace_of_one_name():
    module = plugin_module("self_clash", """
        import numpy as np
        from lucid import Op, hookimpl

        @hookimpl
        def lucid_ops():
            rule = lambda g, out, x: (g,)
            return [Op("mylib", np.positive, rule), Op("mylib.cube", np.positive, rule)]
    """)
    with pytest.raises(PluginError, match="op 'mylib' is the name of a namespace: plugin 'self_clash' has op "
                                          "'mylib.cube'"):
        Registry().register_plugin(module, name="self_clash")


def test_plugin_whose_lucid_ops_exits_is_refused_and_the_registry_left_as_it_was():
    module = plugin_module("exiting_hook", """
        import sys
        from lucid import hookimpl

        @hookimpl
        def lucid_ops():
            sys.exit("no ops today")
    """)
    registry = Registry()
    with pytest.raises(PluginError, match="plugin 'exiting_hook': SystemExit: no ops today"):
        registry.register_plugin(module, name="exiting_hook")
    assert registry.manager.get_plugin("exiting_hook") is None


def test_entry_point_exiting_at_import_is_a_plugin_error(installed_distribution):
    installed_distribution("lucid-test-ops", {
        "ep_exiting": "import sys\nsys.exit('cannot run here')",
        "ep_fine": CUBE.replace("test_cube", "ep_fine_cube"),
    }, {"exiting": "ep_exiting", "fine": "ep_fine"})
    registry = Registry()
    with pytest.warns(RuntimeWarning, match="exiting"):
        registry.load_entry_points()
    [error] = registry.errors
    assert error.plugin == "exiting" and "SystemExit: cannot run here" in error.reason
    assert "ep_fine_cube" in registry


def test_import_lucid_survives_an_entry_point_that_exits(installed_distribution):
    installed_distribution("lucid-test-ops", {"ep_exit_at_import": "import sys\nsys.exit(0)"},
                           {"exit_at_import": "ep_exit_at_import"})
    code = "import lucid; print([e.plugin for e in lucid.registry.errors], 'exp' in lucid.registry)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env, capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "['exit_at_import'] True"), done.stderr


def test_entry_point_shadowing_a_registered_plugin_is_reported_not_skipped(installed_distribution):
    import importlib

    installed_distribution("lucid-test-ops", {"ep_shadow": CUBE.replace("test_cube", "ep_shadow_cube")},
                           {"lucid_ops.arithmetic": "ep_shadow"})
    registry = Registry()
    registry.register_plugin(importlib.import_module("lucid_ops.arithmetic"), name="lucid_ops.arithmetic")
    with pytest.warns(RuntimeWarning, match="lucid_ops.arithmetic"):
        registry.load_entry_points()
    [error] = registry.errors
    assert error.plugin == "lucid_ops.arithmetic"
    assert "already registered (module 'lucid_ops.arithmetic')" in error.reason
    assert "ep_shadow_cube" not in registry and registry.plugin_of("add") == "lucid_ops.arithmetic"


def test_loading_the_entry_points_twice_loads_each_once(installed_distribution):
    installed_distribution("lucid-test-ops", {"ep_twice": CUBE.replace("test_cube", "ep_twice_cube")},
                           {"twice": "ep_twice"})
    registry = Registry()
    registry.load_entry_points()
    registry.load_entry_points()
    assert "ep_twice_cube" in registry and not registry.errors
