"""The tutorial's control-flow example (a while loop and a branch on computed values), compiled.

    python examples/control_flow.py

`double_until_large` doubles its input until the norm passes 1000 and then either keeps it or
multiplies it by 100, depending on the sign of the sum. Under jitgrad.compile every condition is a
guard: each input that takes a new path traces it, later inputs on a known path run the compiled
program. The gradient (through autograd.record and backward) is checked against the eager one.
Needs only jitgrad.
"""
from __future__ import annotations

import numpy as np

INPUTS = ([0.5, -1.0, 2.0], [1.0, 2.0, 3.0], [-10.0, -20.0, -30.0], [0.25, -0.5, 1.0])
HEAD = [0.01, 1.0, 0.1]


def double_until_large(a):
    from jitgrad import nd
    b = a * 2
    while (nd.norm(b) < 1000).asscalar():
        b = b * 2
    if (nd.sum(b) > 0).asscalar():
        return b
    return 100 * b


def value_and_gradient(fn, values) -> tuple:
    """fn(a) and the gradient of (HEAD . fn(a)) w.r.t. a, through record() and backward()."""
    from jitgrad import autograd, nd
    a = nd.array(values)
    a.attach_grad()
    with autograd.record():
        c = fn(a)
    c.backward(nd.array(HEAD))
    return c.asnumpy(), a.grad.asnumpy()


def run(verbose: bool = True) -> dict:
    """Every input eagerly and compiled; returns the results and the compiled cache statistics."""
    import jitgrad as jg
    compiled = jg.compile(double_until_large)
    rows = []
    for values in INPUTS:
        eager, fast = value_and_gradient(double_until_large, values), value_and_gradient(compiled,
                                                                                        values)
        rows.append({"input": values, "eager": eager, "compiled": fast})
        if verbose:
            print(f"a = {values}: c = {fast[0]}, a.grad = {fast[1]}, same as eager: "
                  f"{all(np.array_equal(x, y) for x, y in zip(eager, fast))}")
    info = compiled.cache_info()
    if verbose:
        print("cache:", info)
    return {"rows": rows, "cache_info": info}


def main(argv=None) -> dict:
    result = run()
    if not all(np.array_equal(x, y) for r in result["rows"] for x, y in zip(r["eager"], r["compiled"])):
        raise SystemExit("compiled and eager results differ")
    return result


if __name__ == "__main__":
    main()
