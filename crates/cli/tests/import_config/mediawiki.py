"""JupyterHub for a Wikipedia research group: log in with a Wikimedia account."""
c = get_config()  # noqa
c.JupyterHub.authenticator_class = "mediawiki"

c.MWOAuthenticator.client_id = "0123456789abcdef0123456789abcdef"
c.MWOAuthenticator.client_secret = "fedcba9876543210fedcba9876543210"
c.MWOAuthenticator.oauth_callback_url = "https://paws.example.org/hub/oauth_callback"
c.MWOAuthenticator.mw_index_url = "https://en.wikipedia.org/w/index.php"
c.MWOAuthenticator.login_service = 'Wikipedia'
c.MWOAuthenticator.executor_threads = 4
c.MWOAuthenticator.allowed_users = {"Alice Smith", "Bob_Jones"}
c.MWOAuthenticator.admin_users.add("Ada Lovelace")
c.MWOAuthenticator.blocked_users = set(["Vandal Bot"])
c.MWOAuthenticator.manage_groups = True
c.MWOAuthenticator.auth_state_groups_key = "MEDIAWIKI_USER_IDENTITY.groups"
c.MWOAuthenticator.allowed_groups = ["autoconfirmed"]
c.MWOAuthenticator.admin_groups = {"sysop"}
c.Authenticator.enable_auth_state = True


def add_wiki(authenticator, auth_state):
    auth_state["wiki"] = "enwiki"
    return auth_state


c.MWOAuthenticator.modify_auth_state_hook = add_wiki

# --- spawner ---
c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"
c.DockerSpawner.image = "quay.io/wikimedia/paws-singleuser:latest"
c.Spawner.environment = {"WIKI": "enwiki"}
