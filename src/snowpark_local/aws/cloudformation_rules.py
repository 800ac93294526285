"""A template's `Rules` section, checked and evaluated as CloudFormation does.

moto ignores `Rules`, so a template whose rules CloudFormation refuses deploys locally, and a
rule's assertions never stop a stack. CloudFormation allows only the rule functions and `Ref`
inside `Rules` (template reference, "Rule functions", "Supported functions"), and refuses the
request (CreateStack, CreateChangeSet, ValidateTemplate) with a ValidationError when a rule
uses another function; when a rule's RuleCondition holds and one of its assertions does not,
CreateStack and CreateChangeSet fail with the assertion's AssertDescription. PATCHES, at the
end, lists the moto methods this checks before, for the registry (local/patches.py).
"""

from __future__ import annotations

import inspect
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack

from snowpark_local.patch import Patch, upstream

RULE_FUNCTIONS = (
    "Fn::And",
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::Equals",
    "Fn::Not",
    "Fn::Or",
    "Fn::RefAll",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
)
# These read the account's resources of an AWS-specific parameter type (a VPC's tags, say);
# the local stack does not evaluate them (docs/local-stack.md), it refuses them in one line.
_NOT_EVALUATED = ("Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll")


def _rule_error(message: str) -> ValidationError:
    return ValidationError(message=f"Template format error: {message}")


def check_functions(rules: Any) -> None:
    """Refuse a `Rules` section that uses anything but the rule functions and Ref."""
    if rules is None:
        return
    if not isinstance(rules, dict):
        raise _rule_error("Rules must be a mapping of rule names to rules.")
    for name, rule in rules.items():
        if not isinstance(rule, dict) or not isinstance(rule.get("Assertions"), list):
            raise _rule_error(f"rule {name} needs a list of Assertions.")
        parts = [rule.get("RuleCondition")] + [a.get("Assert") for a in rule["Assertions"]]
        for part in parts:
            _check_part(name, part)


def _check_part(rule: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _check_part(rule, item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key != "Ref" and key not in RULE_FUNCTIONS:
                raise _rule_error(
                    f"{key} is not supported in the Rules section (rule {rule}): use only the "
                    "rule functions (Fn::And, Fn::Contains, Fn::EachMemberEquals, "
                    "Fn::EachMemberIn, Fn::Equals, Fn::Not, Fn::Or, Fn::RefAll, Fn::ValueOf, "
                    "Fn::ValueOfAll) and Ref."
                )
            _check_part(rule, inner)


def parameter_values(template: dict, given: dict[str, Any]) -> dict[str, Any]:
    """Each declared parameter's value (given, else its default), lists split as CloudFormation
    does for CommaDelimitedList and List<...> types."""
    values: dict[str, Any] = {}
    for name, declaration in (template.get("Parameters") or {}).items():
        value = given.get(name, declaration.get("Default"))
        kind = str(declaration.get("Type", "String"))
        if value is not None and (kind == "CommaDelimitedList" or kind.startswith("List<")):
            value = value if isinstance(value, list) else str(value).split(",")
        values[name] = value
    return values


def evaluate(template: dict, given: dict[str, Any]) -> None:
    """Fail as CloudFormation does when a rule whose condition holds has a false assertion."""
    rules = template.get("Rules")
    check_functions(rules)
    if not rules:
        return
    values = parameter_values(template, given)
    for name, rule in rules.items():
        if "RuleCondition" in rule and not _truth(name, rule["RuleCondition"], values):
            continue
        for assertion in rule["Assertions"]:
            if not _truth(name, assertion.get("Assert"), values):
                description = assertion.get("AssertDescription") or f"Assertion of {name} failed"
                raise ValidationError(message=description)


def _value(rule: str, node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict) and len(node) == 1:
        ((key, argument),) = node.items()
        if key == "Ref":
            if argument not in values:
                raise _rule_error(f"rule {rule} refers to {argument}, which is not a parameter.")
            return values[argument]
        if key in _NOT_EVALUATED:
            raise _rule_error(f"{key} (rule {rule}) is not evaluated by the local stack.")
        if key in RULE_FUNCTIONS:
            return _truth(rule, node, values)
    if isinstance(node, list):
        return [_value(rule, item, values) for item in node]
    return node


def _truth(rule: str, node: Any, values: dict[str, Any]) -> bool:
    if not isinstance(node, dict) or len(node) != 1:
        raise _rule_error(f"rule {rule} has an assertion that is not a rule function.")
    ((key, argument),) = node.items()
    args = [_value(rule, item, values) for item in argument] if isinstance(argument, list) else []
    if key == "Fn::Not":
        return not _truth(rule, argument[0], values)
    if key == "Fn::And":
        return all(_truth(rule, item, values) for item in argument)
    if key == "Fn::Or":
        return any(_truth(rule, item, values) for item in argument)
    if key == "Fn::Equals":
        return str(args[0]) == str(args[1])
    if key == "Fn::Contains":
        return str(args[1]) in [str(v) for v in args[0]]
    if key == "Fn::EachMemberEquals":
        return all(str(v) == str(args[1]) for v in args[0])
    if key == "Fn::EachMemberIn":
        return all(str(v) in [str(w) for w in args[1]] for v in args[0])
    return bool(_value(rule, node, values))


def _checked(name: str, rules_only: bool = False):
    """moto's CloudFormationBackend.`name`, after checking (or evaluating) the template's Rules."""

    def wrapper(self, *args, **kwargs):
        original = upstream(CloudFormationBackend, name)
        arguments = inspect.signature(original).bind(self, *args, **kwargs).arguments
        template = Stack.parse_template(arguments["template"]) if arguments["template"] else {}
        if rules_only:
            check_functions(template.get("Rules"))
        else:
            evaluate(template, arguments.get("parameters") or {})
        return original(self, *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


# --- What this module changes in moto, for the registry (local/patches.py):
# `Rules` are checked where CloudFormation checks them.

_IGNORES_RULES = "moto ignores a template's Rules"
PATCHES: list[Patch] = [
    Patch(CloudFormationBackend, "create_stack", _checked("create_stack"), _IGNORES_RULES),
    Patch(
        CloudFormationBackend, "create_change_set", _checked("create_change_set"), _IGNORES_RULES
    ),
    Patch(
        CloudFormationBackend,
        "validate_template",
        _checked("validate_template", rules_only=True),
        _IGNORES_RULES,
    ),
]
