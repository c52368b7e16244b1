"""Helpers shared by the CDK Terrain clouds (GCP, Azure, Kubernetes). Imports cdktn's core
only, never a provider, and is never imported by the AWS constructs."""

from __future__ import annotations

from typing import Any

from cdktn import DefaultTokenResolver, StringConcat, Token, Tokenization
from constructs import IConstruct

__all__ = ["stable_text"]


def stable_text(scope: IConstruct, value: Any) -> str:
    """`value` as text that is the same in every synth, for hashing into construct ids.

    An unresolved token's text (`${TfToken[TOKEN.57]}`) counts the tokens the process
    made before it, so an id hashed from it changes with whatever else was built first
    (another stack, another test) and Terraform would replace the resource. It is
    resolved to the Terraform expression it stands for (`${azurerm_x.y.id}`) instead."""
    text = str(value)
    if Token.is_unresolved(text):
        text = str(Tokenization.resolve(text, scope=scope,
                                        resolver=DefaultTokenResolver(StringConcat())))
    return text
