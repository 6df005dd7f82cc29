"""Natural language understanding: training data, language identification, intents, entities.

`NLUEngine` is the interface every engine implements (the embedded one here, Rasa later);
`ParseResult.to_rasa()` is the public `/model/parse` shape.
"""
