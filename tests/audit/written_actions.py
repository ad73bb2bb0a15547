"""Every audit action the source can write, worked out by reading src/openpim (nothing is run).

The scan starts at each construction of `AuditEntry` and follows what its `action` can hold:
string literals, conditional expressions, f-strings and `+`, dict lookups (`{...}[key]`,
`.get`), module constants and StrEnum members, local variables, the return values of a called
function, and, when the action is a parameter, the argument of every call of that function
(for a dataclass field read through `self`, of every construction of the class). That covers
how the services name their actions: helpers that take the action as a parameter, mapping
dicts, f"{kind}.{verb}", the worker's expiry constants.

Whatever it cannot follow is reported in `unresolved` instead of being guessed (a call it
cannot resolve, a helper passed around as a value, a method taking the action, `**kwargs`...),
so a new way of naming an action fails the test until the scan (or the code) is taught it.
The result can be wider than what runs: a dict or f-string gives every combination of its
parts, whichever the callers actually reach.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[2] / "src"
AUDIT_ENTRY = "openpim.audit.writer.AuditEntry"

Function = ast.FunctionDef | ast.AsyncFunctionDef
Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Written:
    """One action and where its text (a literal, or the f-string that builds it) is."""

    action: str
    where: str


@dataclass(frozen=True)
class _Module:
    name: str
    path: str
    tree: ast.Module
    imports: dict[str, str]


@dataclass(frozen=True)
class _Definition:
    node: Function | ast.ClassDef
    module: _Module
    scope: Scope  # where it is defined: its defaults and decorators are evaluated there


@dataclass(frozen=True)
class _CallSite:
    call: ast.Call
    scope: Scope
    module: _Module


def _imports(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                found[local] = alias.name if alias.asname else local
    return found


def _own_nodes(scope: Scope) -> list[ast.AST]:
    """The nodes of `scope` itself, without the bodies of functions and classes inside it."""
    nodes: list[ast.AST] = []
    stack: list[ast.AST] = list(reversed(scope.body))
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, _DEFINITIONS):
            stack.extend(reversed(node.decorator_list))
        elif not isinstance(node, ast.Lambda):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return nodes


def _assigned(node: ast.AST, name: str) -> ast.expr | None:
    """The value of `name = value` or `name: T = value`, else None."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return None
    return node.value if any(isinstance(t, ast.Name) and t.id == name for t in targets) else None


def _parameters(function: Function) -> list[ast.arg]:
    return [*function.args.posonlyargs, *function.args.args]


def _default_of(function: Function, name: str) -> ast.expr | None:
    positional = _parameters(function)
    defaults = function.args.defaults
    for arg, default in zip(positional[len(positional) - len(defaults) :], defaults, strict=True):
        if arg.arg == name:
            return default
    for arg, kw_default in zip(function.args.kwonlyargs, function.args.kw_defaults, strict=True):
        if arg.arg == name:
            return kw_default
    return None


@dataclass
class ActionScan:
    """Reads src/openpim once; `written()` then says what AuditEntry.action can be."""

    root: Path = SOURCE_ROOT
    unresolved: list[str] = field(default_factory=list)
    _modules: dict[str, _Module] = field(default_factory=dict)
    _definitions: dict[str, _Definition] = field(default_factory=dict)
    _names: dict[ast.AST, str] = field(default_factory=dict)
    _nodes: dict[ast.AST, list[ast.AST]] = field(default_factory=dict)
    _local_definitions: dict[ast.AST, dict[str, str]] = field(default_factory=dict)
    _parents: dict[ast.AST, Scope] = field(default_factory=dict)
    _calls: dict[str, list[_CallSite]] = field(default_factory=lambda: defaultdict(list))
    _passed_around: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    _busy: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for path in sorted((self.root / "openpim").rglob("*.py")):
            relative = path.relative_to(self.root)
            name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            self._modules[name] = _Module(name, relative.as_posix(), tree, _imports(tree))
        for module in self._modules.values():
            self._index_definitions(module, module.tree, module.name)
        for module in self._modules.values():
            self._index_calls(module)

    def written(self) -> set[Written]:
        """Every (action, source) an AuditEntry can be built with; read `unresolved` after."""
        return self._field_values(AUDIT_ENTRY, "action")

    # --- what the names in the source refer to ------------------------------------------------

    def _own(self, scope: Scope) -> list[ast.AST]:
        if scope not in self._nodes:
            self._nodes[scope] = _own_nodes(scope)
        return self._nodes[scope]

    def _index_definitions(self, module: _Module, scope: Scope, prefix: str) -> None:
        local = self._local_definitions.setdefault(scope, {})
        for node in self._own(scope):
            if isinstance(node, _DEFINITIONS):
                name = f"{prefix}.{node.name}"
                local[node.name] = name  # the last definition wins, as at run time
                self._parents[node] = scope
                self._names[node] = name
                self._definitions[name] = _Definition(node, module, scope)
                self._index_definitions(module, node, name)

    def _index_calls(self, module: _Module) -> None:
        scopes: list[Scope] = [module.tree]
        scopes += [d.node for d in self._definitions.values() if d.module is module]
        for scope in scopes:
            called: set[ast.AST] = set()
            for node in self._own(scope):
                if isinstance(node, ast.Call):
                    called.add(node.func)
                    target = self._callee(node.func, scope, module)
                    if target is not None:
                        self._calls[target].append(_CallSite(node, scope, module))
            for node in self._own(scope):
                # A function handed on as a value (a callback, a partial) is called where the
                # scan cannot see which arguments it gets.
                if isinstance(node, ast.Name | ast.Attribute) and node not in called:
                    target = self._callee(node, scope, module)
                    definition = self._definitions.get(target or "")
                    if definition is not None and not isinstance(definition.node, ast.ClassDef):
                        self._passed_around[target or ""].append(f"{module.path}:{node.lineno}")

    def _canonical(self, dotted: str) -> str:
        """`dotted` with re-exports followed to the module that defines the name."""
        for _ in range(10):
            if dotted in self._definitions or dotted in self._modules:
                return dotted
            owner, _, attribute = dotted.rpartition(".")
            module = self._modules.get(owner)
            if module is None or attribute not in module.imports:
                return dotted
            dotted = module.imports[attribute]
        return dotted

    def _callee(self, func: ast.expr, scope: Scope, module: _Module) -> str | None:
        if isinstance(func, ast.Name) and isinstance(func.ctx, ast.Load):
            return self._qualified(func.id, scope, module)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id == "self":
                owner = self._enclosing_class(scope)
                return f"{owner}.{func.attr}" if owner else None
            base = self._qualified(func.value.id, scope, module)
            return self._canonical(f"{base}.{func.attr}") if base in self._modules else None
        return None

    def _enclosing_class(self, scope: Scope) -> str | None:
        parent = self._parents.get(scope)
        return self._names[parent] if isinstance(parent, ast.ClassDef) else None

    def _qualified(self, name: str, scope: Scope, module: _Module) -> str | None:
        """The dotted name a bare `name` refers to from `scope`: a definition or an import."""
        current: Scope | None = scope
        while current is not None:
            if not isinstance(current, ast.ClassDef) or current is scope:
                local = self._local_definitions.get(current, {})
                if name in local:
                    return local[name]
            current = self._parents.get(current)
        imported = module.imports.get(name)
        return self._canonical(imported) if imported else None

    # --- what an expression can be ------------------------------------------------------------

    def _unresolved(self, module: _Module, node: ast.AST, why: str) -> set[Written]:
        line = getattr(node, "lineno", 0)
        self.unresolved.append(f"{module.path}:{line}: {why}: {ast.unparse(node)[:120]}")
        return set()

    def _values(self, expr: ast.expr, scope: Scope, module: _Module) -> set[Written]:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {Written(expr.value, f"{module.path}:{expr.lineno}")}
        if isinstance(expr, ast.IfExp):
            return self._values(expr.body, scope, module) | self._values(expr.orelse, scope, module)
        if isinstance(expr, ast.JoinedStr | ast.BinOp):
            return self._concatenation(expr, scope, module)
        if isinstance(expr, ast.Subscript):
            return self._lookup(expr.value, [], expr, scope, module)
        if isinstance(expr, ast.Call):
            return self._call_values(expr, scope, module)
        if isinstance(expr, ast.Name):
            return self._name_values(expr.id, expr, scope, module)
        if isinstance(expr, ast.Attribute):
            return self._attribute_values(expr, scope, module)
        return self._unresolved(module, expr, "expression the scan cannot follow")

    def _union(self, exprs: list[ast.expr], scope: Scope, module: _Module) -> set[Written]:
        out: set[Written] = set()
        for expr in exprs:
            out |= self._values(expr, scope, module)
        return out

    def _concatenation(
        self, expr: ast.JoinedStr | ast.BinOp, scope: Scope, module: _Module
    ) -> set[Written]:
        if isinstance(expr, ast.BinOp) and not isinstance(expr.op, ast.Add):
            return self._unresolved(module, expr, "operator other than +")
        parts = [expr.left, expr.right] if isinstance(expr, ast.BinOp) else list(expr.values)
        choices: list[list[str]] = []
        for part in parts:
            if isinstance(part, ast.FormattedValue):
                if part.format_spec is not None or part.conversion not in (-1, ord("s")):
                    return self._unresolved(module, expr, "f-string part with a format")
                part = part.value
            choices.append(sorted({w.action for w in self._values(part, scope, module)}))
        where = f"{module.path}:{expr.lineno}"
        return {Written("".join(combo), where) for combo in itertools.product(*choices)}

    def _lookup(
        self,
        mapping: ast.expr,
        fallback: list[ast.expr],
        expr: ast.expr,
        scope: Scope,
        module: _Module,
    ) -> set[Written]:
        """`mapping[key]` or `mapping.get(key, *fallback)`: any of the dict's values."""
        binder: Scope = scope
        if isinstance(mapping, ast.Name):
            assigned = self._assignments(mapping.id, scope)
            if assigned is not None and len(assigned[0]) == 1:
                (mapping,), binder = assigned
        if not isinstance(mapping, ast.Dict):
            return self._unresolved(module, expr, "lookup in something not a dict literal")
        return self._union(mapping.values, binder, module) | self._union(fallback, scope, module)

    def _call_values(self, call: ast.Call, scope: Scope, module: _Module) -> set[Written]:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "get":
            return self._lookup(func.value, call.args[1:2], call, scope, module)
        target = self._callee(func, scope, module)
        callee = self._definitions.get(target or "")
        if callee is None or isinstance(callee.node, ast.ClassDef):
            return self._unresolved(module, call, "call the scan cannot follow")
        returns = [n.value for n in self._own(callee.node) if isinstance(n, ast.Return)]
        return self._union([r for r in returns if r is not None], callee.node, callee.module)

    def _assignments(self, name: str, scope: Scope) -> tuple[list[ast.expr], Scope] | None:
        """The values `name` is assigned in the nearest scope binding it, and that scope."""
        current: Scope | None = scope
        while current is not None:
            if isinstance(current, ast.ClassDef) and current is not scope:
                current = self._parents.get(current)
                continue
            values: list[ast.expr] = []
            stores = 0
            for node in self._own(current):
                if isinstance(node, ast.Name) and node.id == name:
                    stores += isinstance(node.ctx, ast.Store)
                value = _assigned(node, name)
                if value is not None:
                    values.append(value)
            if stores:
                # Bound some other way too (a loop, a tuple, an augmented assignment): no
                # values, which the caller reports.
                return (values if stores == len(values) else []), current
            current = self._parents.get(current)
        return None

    def _name_values(
        self, name: str, node: ast.expr, scope: Scope, module: _Module
    ) -> set[Written]:
        assigned = self._assignments(name, scope)
        current: Scope | None = scope
        while isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
            if name in {a.arg for a in [*_parameters(current), *current.args.kwonlyargs]}:
                if assigned is not None and assigned[1] is current:
                    return self._unresolved(module, node, "parameter assigned again")
                return self._argument_values(self._names[current], name)
            if assigned is not None and assigned[1] is current:
                break
            current = self._parents.get(current)
        if assigned is not None:
            values, binder = assigned
            if not values:
                return self._unresolved(module, node, "variable bound other than by =")
            return self._union(values, binder, module)
        imported = module.imports.get(name)
        if imported is not None:
            return self._dotted_values(self._canonical(imported), node, module)
        return self._unresolved(module, node, "name the scan cannot find")

    def _dotted_values(self, dotted: str, node: ast.expr, module: _Module) -> set[Written]:
        owner, _, attribute = dotted.rpartition(".")
        if owner in self._modules:
            target = self._modules[owner]
            return self._name_values(attribute, node, target.tree, target)
        definition = self._definitions.get(owner)
        if definition is not None and isinstance(definition.node, ast.ClassDef):
            return self._class_constant(definition.node, definition.module, attribute, node)
        return self._unresolved(module, node, f"import the scan cannot find ({dotted})")

    def _attribute_values(self, expr: ast.Attribute, scope: Scope, module: _Module) -> set[Written]:
        if isinstance(expr.value, ast.Name) and expr.value.id == "self":
            owner = self._enclosing_class(scope)
            if owner is not None:
                return self._field_values(owner, expr.attr)
        if isinstance(expr.value, ast.Name):
            base = self._qualified(expr.value.id, scope, module)
            if base is not None:
                return self._dotted_values(self._canonical(f"{base}.{expr.attr}"), expr, module)
        return self._unresolved(module, expr, "attribute the scan cannot follow")

    def _class_constant(
        self, cls: ast.ClassDef, module: _Module, attribute: str, node: ast.expr
    ) -> set[Written]:
        bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in cls.bases}
        if bases & {"Enum", "IntEnum", "Flag", "IntFlag"}:
            # Formatting a member of these gives "Class.NAME", not its value.
            return self._unresolved(module, node, "member of an enum that is not a StrEnum")
        assigned = self._assignments(attribute, cls)
        if assigned is None or assigned[1] is not cls or not assigned[0]:
            return self._unresolved(module, node, f"no constant {attribute} in {cls.name}")
        return self._union(assigned[0], cls, module)

    # --- what callers pass --------------------------------------------------------------------

    def _field_values(self, owner: str, attribute: str) -> set[Written]:
        """What a dataclass field is given by every construction of the class."""
        definition = self._definitions[owner]
        cls = definition.node
        assert isinstance(cls, ast.ClassDef)
        fields = {
            s.target.id: s.value
            for s in cls.body
            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
        }
        if attribute not in fields:
            return self._unresolved(definition.module, cls, f"self.{attribute} is not a field")
        index = list(fields).index(attribute)
        return self._arguments(owner, attribute, index, fields[attribute])

    def _argument_values(self, owner: str, parameter: str) -> set[Written]:
        """What every call of function `owner` passes (or leaves by default) as `parameter`."""
        definition = self._definitions[owner]
        function = definition.node
        assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        if isinstance(definition.scope, ast.ClassDef):
            # Its calls through an instance (obj.method(...)) cannot be told apart by name.
            return self._unresolved(definition.module, function, "a method takes the action")
        names = [a.arg for a in _parameters(function)]
        index = names.index(parameter) if parameter in names else None
        return self._arguments(owner, parameter, index, _default_of(function, parameter))

    def _arguments(
        self, owner: str, parameter: str, index: int | None, default: ast.expr | None
    ) -> set[Written]:
        definition = self._definitions[owner]
        if (owner, parameter) in self._busy:
            return set()  # a recursive call hands on what its own callers gave it
        self._busy.add((owner, parameter))
        try:
            if self._passed_around.get(owner):
                where = ", ".join(self._passed_around[owner])
                return self._unresolved(
                    definition.module, definition.node, f"{owner} is passed as a value at {where}"
                )
            sites = self._calls.get(owner, [])
            if not sites:
                return self._unresolved(definition.module, definition.node, f"no call of {owner}")
            out: set[Written] = set()
            for site in sites:
                argument = self._argument_at(site, parameter, index)
                if argument is not None:
                    out |= self._values(argument, site.scope, site.module)
                elif any(k.arg is None for k in site.call.keywords):
                    out |= self._unresolved(site.module, site.call, "call with **keywords")
                elif default is not None:
                    out |= self._values(default, definition.scope, definition.module)
            return out
        finally:
            self._busy.discard((owner, parameter))

    def _argument_at(self, site: _CallSite, parameter: str, index: int | None) -> ast.expr | None:
        for keyword in site.call.keywords:
            if keyword.arg == parameter:
                return keyword.value
        if index is None or index >= len(site.call.args):
            return None
        if any(isinstance(a, ast.Starred) for a in site.call.args[: index + 1]):
            self._unresolved(site.module, site.call, "call with *arguments")
            return None
        return site.call.args[index]
