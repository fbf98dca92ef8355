import os

c = get_config()

c.JupyterHub.authenticator_class = "generic-oauth"
c.JupyterHub.bind_url = "http://:8000"

keycloak = "https://sso.example.org/realms/research"

c.GenericOAuthenticator.login_service = "Keycloak"
c.GenericOAuthenticator.client_id = "jupyterhub"
c.GenericOAuthenticator.client_secret = os.environ["OAUTH_CLIENT_SECRET"]
c.GenericOAuthenticator.oauth_callback_url = f"https://{os.environ['HUB_HOST']}/hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = keycloak + "/protocol/openid-connect/auth"
c.GenericOAuthenticator.token_url = keycloak + "/protocol/openid-connect/token"
c.GenericOAuthenticator.userdata_url = keycloak + "/protocol/openid-connect/userinfo"
c.GenericOAuthenticator.logout_redirect_url = f"{keycloak}/protocol/openid-connect/logout"
c.GenericOAuthenticator.scope = ["openid", "profile", "email"]
c.GenericOAuthenticator.username_key = "preferred_username"
c.GenericOAuthenticator.userdata_params = {"state": "state"}
c.GenericOAuthenticator.extra_authorize_params = dict(kc_idp_hint="university")


def groups_from_roles(user_info):
    """Keycloak puts realm roles under realm_access."""
    return [r for r in user_info.get("realm_access", {}).get("roles", [])]


c.GenericOAuthenticator.claim_groups_key = groups_from_roles
c.GenericOAuthenticator.username_claim = lambda user_info: user_info["email"].split("@")[0]
c.GenericOAuthenticator.allowed_groups = ["jupyter-users", "staff"]
c.GenericOAuthenticator.admin_groups = ["jupyter-admins"]
c.GenericOAuthenticator.manage_groups = True
c.GenericOAuthenticator.tls_verify = False
c.GenericOAuthenticator.http_request_kwargs = {"request_timeout": 20.0, "ca_certs": None}
c.Authenticator.username_map = {
    "Ada.Lovelace": "ada",  # legacy name
    "g.hopper": "grace",
}
c.Authenticator.blocked_users = {'mallory'}
c.Authenticator.allowed_users = ['ada', 'grace'] + ['linus']
c.Authenticator.allowed_users.append('""odd""')
c.Authenticator.post_auth_hook = groups_from_roles
c.Authenticator.refresh_pre_spawn = True
c.Authenticator.auth_refresh_age = 60 * 5
c.GitHubOAuthenticator.allowed_organizations = {"example-org"}
