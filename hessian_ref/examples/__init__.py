"""Examples of other implementations checked against hessian_ref's golden cases."""
