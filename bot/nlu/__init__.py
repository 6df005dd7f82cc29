"""Natural language understanding: training data, language identification, intents, entities.

`NLUEngine` is the interface every engine implements: the embedded one (`embedded.py`) and
Rasa over HTTP (`rasa.py`), with `fallback.py` answering from the embedded one when Rasa cannot;
`ParseResult.to_rasa()` is the public `/model/parse` shape.
"""
