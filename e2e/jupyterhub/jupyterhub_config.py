# Real JupyterHub logging users in through hubauth with its stock GenericOAuthenticator,
# for crates/cli/tests/e2e_jupyterhub.rs. Ports, URLs and secrets come from the
# environment the test sets; everything else is what an operator would write.
import os

env = os.environ
hubauth = env["E2E_HUBAUTH_URL"]  # the browser-facing hubauth, e.g. http://localhost:8000
hubauth_backchannel = env["E2E_HUBAUTH_BACKCHANNEL_URL"]  # the same hub, for server calls
public = env["E2E_JUPYTERHUB_URL"]  # http://127.0.0.1:PORT
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

# The test reads users through JupyterHub's REST API with this service's token; nobody
# spawns a notebook server.
c.JupyterHub.services = [{"name": "e2e-reader", "api_token": env["E2E_API_TOKEN"]}]
c.JupyterHub.load_roles = [
    {
        "name": "e2e-reader",
        "scopes": ["admin:users", "admin:groups"],
        "services": ["e2e-reader"],
    }
]

# The part that matters: hubauth as the OAuth provider (docs/guide/04-deployment.md,
# "hubauth as the identity provider of your apps").
c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.login_service = "hubauth"
c.GenericOAuthenticator.client_id = "service-jupyterhub"
c.GenericOAuthenticator.client_secret = env["E2E_CLIENT_SECRET"]
c.GenericOAuthenticator.oauth_callback_url = f"{public}/hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = f"{hubauth}/hub/api/oauth2/authorize"
c.GenericOAuthenticator.token_url = f"{hubauth_backchannel}/hub/api/oauth2/token"
c.GenericOAuthenticator.userdata_url = f"{hubauth_backchannel}/hub/api/oauth2/userinfo"
c.GenericOAuthenticator.scope = ["openid", "groups"]
c.GenericOAuthenticator.username_claim = "preferred_username"
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.auth_state_groups_key = "oauth_user.groups"
c.GenericOAuthenticator.admin_groups = {"hub-admins"}
c.GenericOAuthenticator.allow_all = True
