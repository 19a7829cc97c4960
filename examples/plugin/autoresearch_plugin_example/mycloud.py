"""`llm:mycloud/<model>`: a service that speaks OpenAI's chat API, at its own address, with its key in
MYCLOUD_API_KEY. ([proposer.options] base_url and api_key_env still override both.)"""

from autoresearch.llm.openai_compat import OpenAICompatible

MYCLOUD = OpenAICompatible("mycloud", base_url="https://llm.mycloud.example/v1", key_env="MYCLOUD_API_KEY")
