# Configuration file for jupyterhub (Azure AD login).
import os
from oauthenticator.azuread import AzureAdOAuthenticator

c = get_config()  # noqa

c.JupyterHub.authenticator_class = AzureAdOAuthenticator
c.JupyterHub.bind_url = 'http://127.0.0.1:8000/jupyter'
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = '/srv/jupyterhub/jupyterhub_cookie_secret'
c.JupyterHub.spawner_class = 'systemdspawner.SystemdSpawner'

c.AzureAdOAuthenticator.tenant_id = os.environ.get('AAD_TENANT_ID')
c.AzureAdOAuthenticator.oauth_callback_url = (
    "https://hub.example.org"
    '/jupyter/hub/oauth_callback'
)
c.AzureAdOAuthenticator.client_id = '6a1c3e0e-7c1d-4a8e-9f6a-2b0c9d1e4f11'
c.AzureAdOAuthenticator.client_secret = 's3cr3t~Azure.Value'
c.AzureAdOAuthenticator.scope = ['openid', 'email', 'profile']
c.AzureAdOAuthenticator.username_claim = "preferred_username"
c.AzureAdOAuthenticator.manage_groups = True
c.AzureAdOAuthenticator.allowed_groups = {"b1e2d3c4-0000-4000-8000-000000000001"}
c.AzureAdOAuthenticator.admin_users = {'ada@example.org', "grace@example.org"}
c.Authenticator.whitelist = set()
c.Authenticator.auth_refresh_age = 1800   # seconds
c.Authenticator.enable_auth_state = True

c.Spawner.default_url = '/lab'
c.SystemdSpawner.mem_limit = '4G'
