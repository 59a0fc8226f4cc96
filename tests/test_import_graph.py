"""The package's import graph has no circles: every import points one way, so each module can
be read (and tested) after the modules it imports. import-linter's contracts keep the layers;
this keeps the modules inside a layer from importing each other round."""

import grimp


def circles(graph: grimp.ImportGraph) -> list:
    """The strongly connected sets of modules (Tarjan's algorithm) of more than one module, or
    of one importing itself. A package's own __init__ is left out of its children's imports:
    Python runs it before any of them, whatever they import."""
    modules = sorted(graph.modules)
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def edges(module: str) -> list:
        return [m for m in graph.find_modules_directly_imported_by(module) if m in graph.modules]

    def visit(root: str) -> None:
        work = [(root, iter(edges(root)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == module:
                            break
                    if len(group) > 1 or module in edges(module):
                        found.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges(child))))
            elif child in on_stack:
                low[module] = min(low[module], index[child])

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_the_package_imports_in_no_circles():
    graph = grimp.build_graph("evo_mt", "evo_mt_cli", exclude_type_checking_imports=False)
    assert circles(graph) == []


def test_a_circle_is_found():
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(module)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.d", imported="a.b")
    assert circles(graph) == [["a.b", "a.c"]]
