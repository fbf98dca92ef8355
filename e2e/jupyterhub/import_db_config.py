# Real JupyterHub holding the data that `hubauth import-db` moves, for
# crates/cli/tests/external/import_db.rs: users, admins, groups with properties, a role
# with scopes, a service with an OAuth client, a service that makes API tokens, and
# auth_state written at a login (with the key in JUPYTERHUB_CRYPT_KEY). Ports, paths
# and secrets come from the environment the test sets.
import os

from jupyterhub.auth import DummyAuthenticator

env = os.environ
public = env["E2E_JUPYTERHUB_URL"]
data_dir = env["E2E_DATA_DIR"]

c = get_config()  # noqa: F821 (injected by traitlets)

c.JupyterHub.bind_url = public
c.JupyterHub.hub_bind_url = env["E2E_JUPYTERHUB_INTERNAL_URL"]
c.JupyterHub.db_url = f"sqlite:///{data_dir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{data_dir}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{data_dir}/jupyterhub.pid"
c.ConfigurableHTTPProxy.command = [env["E2E_CHP"]]
c.ConfigurableHTTPProxy.api_url = env["E2E_CHP_API_URL"]
c.ConfigurableHTTPProxy.pid_file = f"{data_dir}/jupyterhub-proxy.pid"
c.ConfigurableHTTPProxy.debug = False


class StateAuthenticator(DummyAuthenticator):
    """DummyAuthenticator that returns auth_state, as an OAuthenticator does."""

    async def authenticate(self, handler, data):
        user = await super().authenticate(handler, data)
        if not user:
            return None
        name = user if isinstance(user, str) else user["name"]
        return {
            "name": name,
            "auth_state": {
                "access_token": f"upstream-access-token-of-{name}",
                "oauth_user": {"preferred_username": name, "groups": ["staff"]},
            },
        }


c.JupyterHub.authenticator_class = StateAuthenticator
c.DummyAuthenticator.password = env["E2E_PASSWORD"]
c.Authenticator.enable_auth_state = True
c.Authenticator.allowed_users = {"alice", "bob"}
c.Authenticator.admin_users = {"root"}

c.JupyterHub.load_groups = {
    "staff": {"users": ["alice", "root"], "properties": {"course": "101"}},
    "empty": {"users": []},
}
c.JupyterHub.services = [
    # Makes API tokens for users through the REST API, as a script would.
    {"name": "maker", "api_token": env["E2E_MAKER_TOKEN"]},
    # An OAuth client of the hub (hubauth keeps it in [[Hub.services]]).
    {
        "name": "announcer",
        "api_token": env["E2E_ANNOUNCER_SECRET"],
        "oauth_redirect_uri": env["E2E_ANNOUNCER_REDIRECT"],
        "oauth_no_confirm": True,
    },
]
c.JupyterHub.load_roles = [
    {
        "name": "reader",
        "description": "reads users and groups",
        "scopes": ["read:users", "read:groups"],
        "users": ["alice"],
    },
    {
        "name": "maker",
        "scopes": ["tokens", "admin:users", "admin:auth_state", "read:users", "read:groups"],
        "services": ["maker"],
    },
]
