"""The scrubber on the shapes real APIs return: ordinary fields pass through intact, real secrets never do.

The documents follow the published response shapes of GitHub (REST v3), OpenAI (chat completions), Stripe
(PaymentIntent) and Kubernetes (Pod, Secret, kubeconfig), with made-up values. Each pairs a harmless
document, which must come out unchanged, with the secrets those APIs really carry, which must not.
"""

from __future__ import annotations

from typing import Any

import pytest
from noetl_worker.scrub import REDACTED, Scrubber

pytestmark = pytest.mark.unit

GITHUB_COMMIT = {
    "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
    "node_id": "MDY6Q29tbWl0NmRjYjA5YjViNTc4NzVmMzM0ZjYxYWViZWQ2OTVlMmU0MTkzZGI1ZQ==",
    "commit": {
        "author": {"name": "Monalisa Octocat", "email": "support@github.com", "date": "2011-04-14T16:00:49Z"},
        "committer": {"name": "Monalisa Octocat", "email": "support@github.com", "date": "2011-04-14T16:00:49Z"},
        "message": "Fix all the bugs",
        "comment_count": 0,
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
    },
    "author": {"login": "octocat", "id": 1, "type": "User", "site_admin": False},
    "parents": [{"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"}],
    "stats": {"additions": 104, "deletions": 4, "total": 108},
}
GITHUB_REPO = {
    "id": 1296269,
    "full_name": "octocat/Hello-World",
    "private": False,
    "permissions": {"admin": False, "push": False, "pull": True},
    "security_and_analysis": {"secret_scanning": {"status": "enabled"}},
    "allow_auto_merge": False,
    "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT"},
}
OPENAI_COMPLETION = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1677858242,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "The tokenizer splits text into tokens."},
            "logprobs": {"content": [{"token": "The", "logprob": -0.01, "bytes": [84, 104, 101]}]},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 13, "completion_tokens": 7, "total_tokens": 20,
              "completion_tokens_details": {"reasoning_tokens": 0}},
    "request": {"max_tokens": 256, "temperature": 0.2},
    "system_fingerprint": "fp_44709d6fcb",
}  # fmt: skip
STRIPE_PAYMENT_INTENT = {
    "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa",
    "object": "payment_intent",
    "amount": 2000,
    "currency": "usd",
    "livemode": False,
    "status": "requires_payment_method",
    "payment_method_types": ["card"],
    "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
    "charges": {"data": [{"outcome": {"network_status": "approved_by_network", "type": "authorized"},
                          "payment_method_details": {"card": {"brand": "visa", "last4": "4242",
                                                              "three_d_secure": {"authenticated": True}}}}]},
}  # fmt: skip
KUBERNETES_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "default", "annotations": {"cert-manager.io/certified": "true"}},
    "spec": {
        "serviceAccountName": "web",
        "automountServiceAccountToken": False,
        "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}],
        "securityContext": {"runAsNonRoot": True},
    },
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
}
KUBERNETES_CLUSTER = {"server": "https://10.0.0.1:6443", "certificate-authority": "/etc/ca.crt",
                      "tls-server-name": "kubernetes", "authority": "kube-apiserver"}  # fmt: skip

CORPUS = {
    "github_commit": GITHUB_COMMIT,
    "github_repo": GITHUB_REPO,
    "openai_completion": OPENAI_COMPLETION,
    "stripe_payment_intent": STRIPE_PAYMENT_INTENT,
    "kubernetes_pod": KUBERNETES_POD,
    "kubeconfig_cluster": KUBERNETES_CLUSTER,
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_ordinary_api_responses_pass_through_unchanged(name: str) -> None:
    assert Scrubber().value(CORPUS[name]) == CORPUS[name]


SECRETS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("github installation token", {"token": "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
                                   "expires_at": "2016-07-11T22:14:10Z", "permissions": {"contents": "read"}},
     ["ghs_16C7e42F292c6912E7710c838347Ae178B4a"]),
    ("openai key echoed in a header", {"headers": {"Authorization": "Bearer sk-proj-abcdefghijklmnopqrstuvwx"}},
     ["sk-proj-abcdefghijklmnopqrstuvwx"]),
    ("stripe client secret", {"id": "pi_1", "client_secret": "pi_1_secret_mwPsPt7iA0q8NFHcwPbNIB0o"},
     ["pi_1_secret_mwPsPt7iA0q8NFHcwPbNIB0o"]),
    ("kubernetes secret stringData", {"kind": "Secret", "stringData": {"password": "hunter2-but-longer"}},
     ["hunter2-but-longer"]),
    ("kubeconfig user", {"users": [{"name": "admin", "user": {"token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln",
                                                               "client-key-data": "LS0tLS1CRUdJTiBSU0Eg"}}]},
     ["eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", "LS0tLS1CRUdJTiBSU0Eg"]),
    ("oauth token response", {"access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a", "token_type": "bearer",
                              "scope": "repo"}, ["gho_16C7e42F292c6912E7710c838347Ae178B4a"]),
]  # fmt: skip


@pytest.mark.parametrize(("what", "document", "secrets"), SECRETS, ids=[s[0] for s in SECRETS])
def test_the_secrets_real_apis_carry_are_always_redacted(
    what: str, document: dict[str, Any], secrets: list[str]
) -> None:
    scrubbed = repr(Scrubber().value(document))
    for secret in secrets:
        assert secret not in scrubbed, what
    assert REDACTED in scrubbed


def test_a_known_secret_value_is_redacted_under_any_key_in_any_api_shape() -> None:
    leaked = {**OPENAI_COMPLETION, "choices": [{"message": {"content": "your password is Tr0ub4dor&3-horse"}}]}
    scrubbed = Scrubber(["Tr0ub4dor&3-horse"]).value(leaked)
    assert "Tr0ub4dor&3-horse" not in repr(scrubbed)
    assert scrubbed["usage"] == OPENAI_COMPLETION["usage"]
