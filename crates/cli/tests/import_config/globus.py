"""JupyterHub on Kubernetes with Globus login (z2jh-style hub.extraConfig)."""
from oauthenticator.globus import GlobusOAuthenticator
c.JupyterHub.authenticator_class = "oauthenticator.globus.GlobusOAuthenticator"
c.JupyterHub.base_url = r'/hub-prefix/'

c.GlobusOAuthenticator.client_id = "0e8a1f3c-1111-2222-3333-444455556666"
c.GlobusOAuthenticator.client_secret = "globus-client-secret-value"
c.GlobusOAuthenticator.oauth_callback_url = "https://jupyter.example.edu/hub-prefix/hub/oauth_callback"
c.GlobusOAuthenticator.identity_provider = 'uchicago.edu'
c.GlobusOAuthenticator.scope = [
    'openid',
    'profile',
    'urn:globus:auth:scope:transfer.api.globus.org:all',
    'urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships',
]
c.GlobusOAuthenticator.exclude_tokens = ['auth.globus.org']
c.GlobusOAuthenticator.allowed_globus_groups = set([
    "a1b2c3d4-aaaa-bbbb-cccc-000000000001",
])
c.GlobusOAuthenticator.admin_globus_groups.add("a1b2c3d4-aaaa-bbbb-cccc-000000000002")
c.GlobusOAuthenticator.logout_redirect_url = 'https://www.globus.org/app/logout'
c.GlobusOAuthenticator.revoke_tokens_on_logout = True; c.Authenticator.enable_auth_state = True

# --- spawner ---
c.JupyterHub.spawner_class = 'kubespawner.KubeSpawner'
c.KubeSpawner.image = 'jupyter/scipy-notebook:2023-10-20'
c.KubeSpawner.cpu_limit = 2.0
c.KubeSpawner.mem_limit = "8G"
c.KubeSpawner.volumes = [{'name': 'home', 'persistentVolumeClaim': {'claimName': 'claim-{username}'}}]
c.KubeSpawner.profile_list = [
    {
        'display_name': 'Small',
        'kubespawner_override': {'cpu_limit': 1, 'mem_limit': '2G'},
    },
]
if os.environ.get("DEBUG"):
    c.JupyterHub.log_level = 'DEBUG'
    c.KubeSpawner.debug = True
